"""Shared pieces of the end-to-end tests (test/e2e/*.py): a lab with the
documented firewall rules, `sluice inline` started in the box, the test
messages, SMTP/IMAP/POP3 client helpers and a check list that turns into the
exit status.

Every test script is `script.py SLUICE_BINARY SOURCE_ROOT [bridge|routed]`
and exits 0 (all checks passed), 1 (a check failed) or 77 (skipped: not
root, or no network namespaces).  Teardown (processes by pid, namespaces,
work dir) runs in a finally clause, and Lab's own atexit/signal handlers
cover the rest: the box's iptables rules live in the box namespace and go
with it.
"""

import base64
import contextlib
import imaplib
import json
import os
import poplib
import smtplib
import socket
import ssl
import subprocess
import sys
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "lab"))

from lab import MAIL_PORTS, Lab  # noqa: E402
from mailtruth import MARKER, eicar  # noqa: E402


class Checks:
    """A list of named checks; prints ok/FAIL lines as they come."""

    def __init__(self):
        self.failures = []
        self.n = 0

    def __call__(self, cond, what):
        self.n += 1
        print("%s: %s" % ("ok" if cond else "FAIL", what), flush=True)
        if not cond:
            self.failures.append(what)
        return cond

    def status(self):
        print("%d passed, %d failed" % (self.n - len(self.failures), len(self.failures)))
        return 1 if self.failures else 0


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def main(run, modes=("bridge",)):
    """Common entry point: argv parsing, the root/netns skip, one lab per
    mode (bridge, routed, either + "+offload"), run(lab, ctx, checks)
    inside it, teardown whatever happens."""
    if len(sys.argv) < 2:
        print("usage: %s SLUICE_BINARY [SOURCE_ROOT] [bridge|routed]" % sys.argv[0])
        return 2
    sluice = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else ROOT
    if len(sys.argv) > 3:
        modes = tuple(sys.argv[3].split(","))
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, NFQUEUE)")
        return SKIP
    checks = Checks()
    t0 = time.monotonic()
    for mode in modes:
        # "bridge+offload": the veths' TSO/GSO/GRO and checksum offload on,
        # so 64 KiB super-packets with partial checksums cross the box.
        topo, _, offload = mode.partition("+")
        try:
            lab = Lab(mode=topo)
            lab.up()
            if offload:
                lab.set_offload(True)
        except Exception as e:  # no netns, veth or bridge: not sluice's failure
            print("SKIP: cannot build the namespace lab: %s" % e)
            return SKIP
        print("== %s topology (%s)" % (mode, lab.id), flush=True)
        ctx = Ctx(lab, sluice, root)
        try:
            run(lab, ctx, checks)
        except Exception as e:
            import traceback
            traceback.print_exc()
            checks(False, "test body raised %r" % e)
        finally:
            if checks.failures and ctx.proc is not None:
                ctx.dump_log()
            ctx.stop_sluice()
            lab.down()
    print("time: %.1f s" % (time.monotonic() - t0))
    return checks.status()


class Ctx:
    """sluice in one lab's box, and its outputs."""

    def __init__(self, lab, sluice, root):
        self.lab, self.sluice, self.root = lab, sluice, root
        self.proc = None
        wd = lab.workdir
        self.eve, self.log, self.sock = wd + "/eve.json", wd + "/sluice.log", wd + "/stats.sock"

    # ---- firewall ----

    def rules(self, queue_bypass=True, ports=MAIL_PORTS):
        """The documented ruleset in the box's FORWARD chain, IPv4 and IPv6."""
        self.lab.queue_rules(ports, queue_bypass)

    def flush_rules(self):
        for t in ("iptables-legacy", "ip6tables-legacy"):
            self.lab.box([t, "-F", "FORWARD"])

    def rule_packets(self):
        """FORWARD rule packet counters (IPv4), in rule order."""
        out = self.lab.box(["iptables-legacy", "-L", "FORWARD", "-v", "-n", "-x"]).stdout
        return [int(l.split()[0]) for l in out.splitlines()[2:] if l.strip()]

    # ---- sluice ----

    def start(self, rules=(), clamdb=True, extra=(), config=None, wait=60):
        argv = [self.sluice, "inline", "--queue", "0", "--eve", self.eve,
                "--stats-socket", self.sock, "--user", "nobody"]
        if config:
            argv += ["-c", config]
        for r in rules:
            argv += ["--rules", r]
        if clamdb:
            argv += ["--clamav-db", os.path.join(self.root, "test", "clamav")]
        argv += list(extra)
        n = self.ready_count()  # the log is appended to across restarts
        self.proc = self.lab.spawn("box", argv, name="sluice", log=self.log)
        ok = wait_for(lambda: self.ready_count() > n or self.proc.poll() is not None, wait)
        if not ok or self.proc.poll() is not None:
            self.dump_log()
            raise RuntimeError("sluice inline did not start")
        return self.proc

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def ready_count(self):
        return self.log_text().count("notice: ready:")

    def dump_log(self):
        print("---- sluice log (last 60 lines) ----")
        print("\n".join(self.log_text().splitlines()[-60:]))

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop_sluice(self):
        if self.proc is not None and self.proc.poll() is None:
            self.lab.stop(self.proc)

    def stats(self):
        r = subprocess.run(self.lab.nsexec("box") + [self.sluice, "stats", "--socket",
                                                     self.sock],
                           capture_output=True, text=True, timeout=20)
        return json.loads(r.stdout)

    def events(self, kind=None):
        out = []
        try:
            with open(self.eve) as f:
                for line in f:
                    if line.strip():
                        try:
                            e = json.loads(line)
                        except ValueError:  # a line still being written
                            continue
                        if kind is None or e.get("event_type") == kind:
                            out.append(e)
        except FileNotFoundError:
            pass
        return out

    def verdicts(self):
        return [e["verdict"]["action"] for e in self.events("message")]

    def wait_messages(self, n, timeout=10):
        """Wait until sluice has written N message events."""
        return wait_for(lambda: len(self.events("message")) >= n, timeout)

    # ---- clients ----

    @contextlib.contextmanager
    def client(self):
        with self.lab.netns("client"):
            yield

    def smtp(self, host=None, port=25, timeout=20):
        with self.client():
            return smtplib.SMTP(host or self.lab.server_ip, port, timeout=timeout)

    def imap(self, host=None, timeout=20):
        with self.client():
            return imaplib.IMAP4(host or self.lab.server_ip, 143, timeout=timeout)

    def pop3(self, host=None, timeout=20):
        with self.client():
            return poplib.POP3(host or self.lab.server_ip, 110, timeout=timeout)

    def tcp(self, host=None, port=25, timeout=20):
        with self.client():
            fam = socket.AF_INET6 if ":" in (host or "") else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((host or self.lab.server_ip, port))
        return s


def lab_tls():
    """A client TLS context for the lab's self-signed certificate."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    return tls


# ---- stores ----

def stored(store):
    """The messages an aiosmtpd store holds, in arrival order."""
    names = sorted((f for f in os.listdir(store) if f.endswith(".eml")),
                   key=lambda f: int(f.split(".")[0]))
    out = []
    for f in names:
        with open(os.path.join(store, f), "rb") as fh:
            out.append(fh.read())
    return out


def maildir_messages(md):
    """Every message file of a maildir (new/ and cur/)."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(md, sub)
        if os.path.isdir(d):
            for f in sorted(os.listdir(d)):
                with open(os.path.join(d, f), "rb") as fh:
                    out.append(fh.read())
    return out


# ---- messages ----

def message(tag, body_lines=200, extra_headers=b"", body=None, sender=b"alice@lab.test"):
    """A plain message, unique by TAG (in Subject and Message-ID)."""
    t = tag.encode() if isinstance(tag, str) else tag
    if body is None:
        body = b"".join(b"line %04d of message %s, nothing to see here\r\n" % (i, t)
                        for i in range(body_lines))
    return (b"From: " + sender + b"\r\nTo: bob@lab.test\r\nSubject: " + t +
            b"\r\nMessage-ID: <" + t + b"@lab.test>\r\nMIME-Version: 1.0\r\n" +
            extra_headers + b"\r\n" + body)


def attachment_message(tag, filename, data, ctype="application/octet-stream", text=b"see attached"):
    """multipart/mixed with one base64 attachment."""
    t = tag.encode()
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    body = (b"--BOUNDARY\r\nContent-Type: text/plain\r\n\r\n" + text + b"\r\n"
            b"--BOUNDARY\r\nContent-Type: " + ctype.encode() + b"; name=\"" +
            filename.encode() + b"\"\r\nContent-Disposition: attachment; filename=\"" +
            filename.encode() + b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 +
            b"--BOUNDARY--\r\n")
    return message(t, extra_headers=b"Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n",
                   body=body)


def eicar_message(tag, pad_lines=0):
    """EICAR as a base64 attachment after a text part of PAD_LINES lines
    (a large message reaches the client in many segments before the one
    sluice holds)."""
    text = b"see attached" + b"".join(b"\r\npadding line %05d before the attachment" % i
                                      for i in range(pad_lines))
    return attachment_message(tag, "eicar.com.txt", eicar() + b"\r\n", "text/plain", text=text)


def marker_message(tag):
    return message(tag, body=b"Hello,\r\n\r\n" + MARKER + b"\r\n\r\nbye\r\n")


def keyword_message(tag, word=b"Project Bluebird"):
    return message(tag, body=b"Hi Bob,\r\n\r\nthe figures for " + word +
                   b" are attached below.\r\n\r\nAlice\r\n")


def send(c, msg, sender="alice@lab.test", rcpts=("bob@lab.test",)):
    """sendmail on an open smtplib connection: (code, text) of the end of
    data, (250, "") when accepted, (0, repr) for any other failure."""
    try:
        refused = c.sendmail(sender, list(rcpts), msg)
        return (250, "") if not refused else (550, repr(refused))
    except smtplib.SMTPDataError as e:
        return (e.smtp_code, e.smtp_error.decode("ascii", "replace"))
    except smtplib.SMTPResponseException as e:
        return (e.smtp_code, e.smtp_error.decode("ascii", "replace"))
    except Exception as e:
        return (0, repr(e))


def quit_quietly(c):
    with contextlib.suppress(Exception):
        c.quit()
    with contextlib.suppress(Exception):
        c.close()


class Raw:
    """A client socket that records every byte it received (for "the client
    never got the whole message" checks) and reads CRLF lines."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.got = b""
        self.error = None   # the exception that ended reading, if any

    def _fill(self):
        try:
            d = self.s.recv(65536)
        except OSError as e:
            self.error = e
            raise
        if not d:
            self.error = EOFError("connection closed")
            raise self.error
        self.buf += d
        self.got += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln + b"\r\n"

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def send(self, data):
        self.s.sendall(data)

    def drain(self):
        """Read until EOF or an error; returns the error (None: clean EOF)."""
        try:
            while True:
                self._fill()
        except EOFError:
            return None
        except OSError as e:
            return e

    def close(self):
        with contextlib.suppress(OSError):
            self.s.close()

    # ---- SMTP ----

    def reply(self):
        """One SMTP reply: (code, text of its last line)."""
        while True:
            ln = self.line()
            if ln[3:4] != b"-":
                return int(ln[:3]), ln[4:].decode("ascii", "replace").strip()

    def ehlo(self, name=b"client.lab.test"):
        greet = self.reply()
        self.send(b"EHLO " + name + b"\r\n")
        return greet, self.reply()


def bdat_transaction(raw, msg, chunk=4096, sender=b"alice@lab.test", rcpt=b"bob@lab.test"):
    """MAIL, RCPT, then MSG in BDAT chunks of CHUNK bytes (the last one with
    LAST): the final reply (code, text); (0, repr) when the connection failed."""
    try:
        for cmd in (b"MAIL FROM:<" + sender + b">\r\n", b"RCPT TO:<" + rcpt + b">\r\n"):
            raw.send(cmd)
            code, text = raw.reply()
            if code >= 400:
                return code, text
        pos = 0
        while True:
            part = msg[pos:pos + chunk]
            pos += len(part)
            last = pos >= len(msg)
            raw.send(b"BDAT %d%s\r\n" % (len(part), b" LAST" if last else b"") + part)
            code, text = raw.reply()
            if last or code >= 400:
                return code, text
    except (OSError, EOFError) as e:
        return 0, repr(e)
