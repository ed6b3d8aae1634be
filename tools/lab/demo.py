#!/usr/bin/python3
"""The inline demo (run by tools/demo): sluice on a real NFQUEUE in a
network-namespace lab, with real servers and clients, told as a story.

usage: demo.py SLUICE_BINARY [--replay]
  (root; falls back to `sluice replay` of test/pcaps/lab when it cannot
  build the lab, or when asked with --replay)

Exit status 0 when every outcome was the expected one.
"""
import base64
import contextlib
import glob
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RULES = sorted(glob.glob(os.path.join(ROOT, "rules", "examples", "*.rules")))
CLAMDB = os.path.join(ROOT, "test", "clamav")
W = 78


def say(text="", indent=0, hang=0):
    pad = " " * indent
    for para in text.split("\n"):
        print(textwrap.fill(para, W, initial_indent=pad, subsequent_indent=pad + " " * hang)
              if para else "")
    sys.stdout.flush()


def head(n, title):
    print("\n[%s] %s" % (n, title))
    sys.stdout.flush()


# ---- can we run the lab? ----

def lab_unavailable():
    """Why the inline lab cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "not running as root (namespaces and NFQUEUE need it)"
    for tool in ("ip", "iptables-legacy", "ip6tables-legacy", "dovecot"):
        if not shutil.which(tool):
            return "'%s' is not installed (tools/deps demo)" % tool
    try:
        import aiosmtpd  # noqa: F401 (only whether it is there)
    except ImportError:
        return "python3-aiosmtpd is not installed (tools/deps demo)"
    ns = "sldemo-probe-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    if r.returncode != 0:
        return "cannot create a network namespace (`ip netns add`: %s)" % r.stderr.strip()
    try:
        r = subprocess.run(["ip", "netns", "exec", ns, "iptables-legacy", "-A", "FORWARD",
                            "-p", "tcp", "-j", "NFQUEUE", "--queue-num", "0",
                            "--queue-bypass"], capture_output=True, text=True)
        if r.returncode != 0:
            return "the iptables NFQUEUE target is missing (%s)" % r.stderr.strip()
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return None


# ---- the messages ----

def eicar():
    sys.path.insert(0, HERE)
    from mailtruth import eicar as e
    return e()


def msg(subject, body, sender="alice@lab.test", rcpt="bob@lab.test", headers=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@lab.test>\r\n"
            "MIME-Version: 1.0\r\n%s\r\n%s" % (sender, rcpt, subject,
                                               subject.lower().replace(" ", "-"), headers,
                                               body)).encode()


def with_attachment(subject, text, filename, data, ctype="application/octet-stream"):
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    body = ("--b1\r\nContent-Type: text/plain\r\n\r\n%s\r\n--b1\r\nContent-Type: %s\r\n"
            "Content-Disposition: attachment; filename=\"%s\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s--b1--\r\n" % (text, ctype, filename, b64))
    return msg(subject, body, headers="Content-Type: multipart/mixed; boundary=\"b1\"\r\n")


# ---- the inline demo ----

class Demo:
    def __init__(self, lab, sluice):
        self.lab, self.sluice = lab, sluice
        wd = lab.workdir
        self.eve, self.log, self.sock = wd + "/eve.json", wd + "/sluice.log", wd + "/stats.sock"
        self.unexpected = []
        self.n = 0

    def outcome(self, what, result, expected):
        self.n += 1
        mark = "" if expected else "   <-- NOT what should happen"
        if not expected:
            self.unexpected.append(what)
        say("%d. %s" % (self.n, what), 2, 3)
        say("-> " + result + mark, 5, 3)

    def smtp(self, host=None):
        with self.lab.netns("client"):
            return smtplib.SMTP(host or self.lab.server_ip, 25, timeout=20)

    def send(self, m, sender="alice@lab.test", login=None, tls=False):
        c = self.smtp()
        try:
            c.ehlo("client.lab.test")
            if tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                c.starttls(context=ctx)
                c.ehlo("client.lab.test")
            if login:
                c.login(*login)
            c.sendmail(sender, ["bob@lab.test"], m)
            code, text = 250, "accepted"
        except smtplib.SMTPResponseException as e:
            code, text = e.smtp_code, e.smtp_error.decode("ascii", "replace")
        except (OSError, smtplib.SMTPException) as e:
            code, text = 0, repr(e)
        with contextlib.suppress(Exception):
            c.quit()
        return code, text

    def stored(self, m):
        store = self.store
        for f in os.listdir(store):
            if f.endswith(".eml") and open(os.path.join(store, f), "rb").read() == m:
                return True
        return False

    def refused(self, what, m, want, **kw):
        code, text = self.send(m, **kw)
        ok = code == 554 and want in text and not self.stored(m)
        self.outcome(what, "REFUSED: the client got \"%d %s\"; the server stored nothing" %
                     (code, text) if code >= 400 else "%d %s" % (code, text), ok)

    def run(self):
        lab = self.lab
        head(1, "The lab")
        smtp = lab.start_smtp()
        self.store = smtp["store"]
        clean_seed = msg("Quarterly figures", "Revenue is up.\r\n" * 200)
        bad_seed = with_attachment("Your invoice", "Please find the invoice attached.\r\n" * 2000,
                                   "invoice.txt", eicar(), "text/plain")
        dc = lab.start_dovecot(users={"alice": "wonderland"},
                               seed={"alice": [clean_seed, bad_seed]})
        say("Three network namespaces on this machine: a mail client (%s), the box "
            "in the middle (a Linux bridge, br0, with br_netfilter so that iptables "
            "sees bridged traffic) and a mail server (%s) running an SMTP server "
            "(aiosmtpd, storing every message it accepts) and Dovecot (IMAP, POP3) "
            "whose mailbox 'alice' holds two messages, the second with the EICAR "
            "test virus attached." % (lab.client_ip, lab.server_ip), 2)

        head(2, "The box's firewall (docs/deploy.md)")
        for r in lab.queue_rules():
            print("    iptables " + " ".join(r))
        say("Mail ports go to NFQUEUE 0, where sluice gives every packet a verdict; "
            "flows sluice cannot read (TLS) get connection mark 1 and skip the queue.  "
            "--queue-bypass: if sluice is not running, traffic passes (fail open).", 2)

        head(3, "sluice inline")
        argv = [self.sluice, "inline", "--queue", "0", "--clamav-db", CLAMDB,
                "--eve", self.eve, "--stats-socket", self.sock, "--user", "nobody"]
        for r in RULES:
            argv += ["--rules", r]
        shown = ["sluice", "inline", "--queue", "0"] + \
            sum((["--rules", os.path.relpath(r, ROOT)] for r in RULES), []) + \
            ["--clamav-db", "test/clamav", "--eve", "eve.json", "--stats-socket", "stats.sock"]
        print(textwrap.fill(" ".join(shown), W, initial_indent="    $ ",
                            subsequent_indent="        "))
        self.proc = lab.spawn("box", argv, name="sluice", log=self.log)
        end = time.monotonic() + 60
        while "ready:" not in open(self.log).read():
            if self.proc.poll() is not None or time.monotonic() > end:
                print(open(self.log).read())
                raise RuntimeError("sluice inline did not start")
            time.sleep(0.05)
        for ln in open(self.log).read().splitlines():
            say(ln, 4)

        head(4, "Traffic from the client, through the box")
        m = msg("Lunch on Friday", "Shall we meet at noon?\r\n" * 50)
        code, text = self.send(m)
        self.outcome("A clean message over SMTP",
                     "DELIVERED: 250, the server stored the %d bytes unchanged" % len(m)
                     if code == 250 and self.stored(m) else "%d %s" % (code, text),
                     code == 250 and self.stored(m))
        self.refused("A message with the EICAR test virus attached (invoice.txt)",
                     with_attachment("Invoice", "See attached.", "invoice.txt", eicar(),
                                     "text/plain"),
                     "virus")
        self.refused("\"Project Kestrel\" in the body (confidential project name, "
                     "rules/examples/confidential.rules)",
                     msg("Plans", "The Project Kestrel launch moves to May.\r\n"), "conf-001")
        self.refused("An attachment named report.pdf.exe (dangerous type, attachments.rules)",
                     with_attachment("Report", "The report.", "report.pdf.exe",
                                     b"MZ\x90\x00" + b"\x00" * 200), "att-")
        self.refused("AUTH as alice@lab.test, then MAIL FROM:<ceo@lab.test> (spoofing.rules)",
                     msg("Urgent transfer", "Please wire the money today.\r\n",
                         sender="ceo@lab.test"), "spoof-01", sender="ceo@lab.test",
                     login=("alice@lab.test", "wonderland"))
        got, err = self.imap_fetch(1)
        self.outcome("IMAP: alice fetches message 1 (clean)",
                     "RECEIVED: all %d bytes, as stored" % len(got) if got == clean_seed else
                     "%r" % (err,), got == clean_seed)
        got, err = self.imap_fetch(2)
        virus_b64 = base64.b64encode(eicar())[:40]
        ok = got != bad_seed and err is not None and virus_b64 not in got
        self.outcome("IMAP: alice fetches message 2 (the infected one, %d bytes)" %
                     len(bad_seed),
                     "RESET: the connection was reset (%s) after %d bytes of the "
                     "message; the client never got the end of it, nor the virus" %
                     (type(err).__name__, len(got)) if ok else
                     "received %d bytes (%r)" % (len(got), err), ok)
        before = self.bypass_packets()
        m = msg("Encrypted hello", "This one travels inside TLS.\r\n" * 20)
        code, text = self.send(m, tls=True)
        n = self.bypass_packets() - before
        ok = code == 250 and self.stored(m) and n > 0
        self.outcome("An SMTP session with STARTTLS",
                     "DELIVERED over TLS; sluice cannot read TLS, so it let the flow bypass "
                     "the queue: %d packets took the connmark rule instead of NFQUEUE" % n
                     if ok else "%d %s (%d bypassed packets)" % (code, text, n), ok)
        del dc

        time.sleep(0.3)  # `sluice stats` figures are at most 100 ms old
        stats = json.loads(subprocess.run(lab.nsexec("box") + [self.sluice, "stats",
                                                               "--socket", self.sock],
                                          capture_output=True, text=True).stdout)
        self.proc.terminate()
        rc = self.proc.wait(10)

        head(5, "sluice's verdicts (its EVE log)")
        self.show_events()

        head(6, "sluice stats")
        self.show_stats(stats)
        if rc != 0:
            self.unexpected.append("sluice exit status %d" % rc)
        return self.unexpected

    def imap_fetch(self, n):
        """(bytes of message N the client got, the error that ended it)."""
        with self.lab.netns("client"):
            s = socket.create_connection((self.lab.server_ip, 143), timeout=20)
        got, err = b"", None
        try:
            s.sendall(b"a1 LOGIN alice wonderland\r\na2 SELECT INBOX\r\n"
                      b"a3 FETCH %d BODY.PEEK[]\r\n" % n)
            buf = b""
            while b"\r\na3 " not in buf:
                d = s.recv(65536)
                if not d:
                    raise EOFError("connection closed")
                buf += d
            s.sendall(b"a4 LOGOUT\r\n")
        except (OSError, EOFError) as e:
            err = e
        finally:
            s.close()
        if b"BODY[] {" in buf:
            size = int(buf.split(b"BODY[] {", 1)[1].split(b"}", 1)[0])
            got = buf.split(b"BODY[] {", 1)[1].split(b"}\r\n", 1)[1][:size]
        return got, err

    def bypass_packets(self):
        out = self.lab.box(["iptables-legacy", "-L", "FORWARD", "-v", "-n", "-x"]).stdout
        return int(out.splitlines()[2].split()[0])

    def show_events(self):
        events = [json.loads(ln) for ln in open(self.eve) if ln.strip()]
        say("%s: %d events.  One line per message sluice judged (TLS ones are not "
            "among them: it cannot read them):" % (os.path.basename(self.eve), len(events)), 2)
        for e in events:
            if e["event_type"] != "message":
                continue
            v = e["verdict"]
            why = "; ".join("%s %s" % (r["kind"], r["id"]) for r in v["reasons"]
                            if r["action"] in ("block", "tempfail")) or \
                "; ".join("%s %s" % (r["kind"], r["id"]) for r in v["reasons"])
            em = e.get("email") or {}
            print("    %-4s %-4s %-5s %-19s %s" % (e["app_proto"], e["direction"].replace(
                "to_server", "c->s").replace("to_client", "s->c"),
                v["action"].upper(), ("\"%s\"" % em.get("subject"))[:19],
                why or "clean"))
        for e in events:
            if e["event_type"] == "inline":
                i = e["inline"]
                print("    inline %-12s %-9s %s" % (i["action"], i["direction"],
                                                 i.get("reply") or i["reason"]))

    def show_stats(self, st):
        v, m, lat, held = st["verdicts"], st["messages"], st["latency_us"], st["held"]
        say("packets %d (%d bytes): accepted %d, dropped %d, bypassed %d, held %d" %
            (st["packets"], st["bytes"], v["accept"], v["drop"], v["bypass"], v["held"]), 2)
        say("messages %d: pass %d, alert %d, tempfail %d, block %d" %
            (m["total"], m["pass"], m["alert"], m["tempfail"], m["block"]), 2)
        say("refused flows: %d SMTP replies sent, %d resets" %
            (st["refused_flows"]["smtp_replies"], st["refused_flows"]["resets"]), 2)
        say("time from receiving a packet to its verdict (packets not held): "
            "p50 %d us, p99 %d us; a held packet waited p50 %d us, max %d us" %
            (lat["p50"], lat["p99"], held["time_us"]["p50"], held["time_us"]["max"]), 2)
        say("ClamAV: %d scans, %d bytes" % (st["scan"]["jobs"], st["scan"]["bytes"]), 2)


def inline_demo(sluice):
    sys.path.insert(0, HERE)
    from lab import Lab
    with Lab(mode="bridge") as lab:
        return Demo(lab, sluice).run()


# ---- the fallback: replay the bundled captures ----

def replay_demo(sluice, why):
    lead = "Replay mode (--replay)" if why.startswith("--replay") else \
        "The inline lab cannot run here: %s.  Instead" % why
    say("%s: sluice replays the bundled captures of the same lab (test/pcaps/lab) with "
        "the same rules and ClamAV database: what it would have done inline." % lead)
    caps = sorted(glob.glob(os.path.join(ROOT, "test", "pcaps", "lab", "*.pcap")))
    head(1, "sluice replay, one capture at a time (what each holds: "
         "test/pcaps/lab/README.md)")
    eve = "/tmp/sluice-demo-replay-%d.json" % os.getpid()
    totals = {}
    try:
        for cap in caps:
            argv = [sluice, "replay", "--quiet", "--clamav-db", CLAMDB, "--eve", eve]
            for r in RULES:
                argv += ["--rules", r]
            r = subprocess.run(argv + [cap], capture_output=True, text=True)
            if r.returncode != 0:
                print(r.stderr)
                return ["replay of %s failed" % os.path.basename(cap)]
            verdicts = []
            for ln in open(eve):
                e = json.loads(ln)
                if e["event_type"] != "message":
                    continue
                v = e["verdict"]
                totals[v["action"]] = totals.get(v["action"], 0) + 1
                ids = [x["id"] for x in v["reasons"] if x["action"] == v["action"]]
                verdicts.append(v["action"] + (" (" + ", ".join(ids) + ")" if ids else ""))
            if not verdicts:
                verdicts = ["no message it could read (inside TLS: bypassed)"]
            say("%-24s %s" % (os.path.basename(cap)[:-5], "; ".join(verdicts)), 2, 25)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(eve)
    head(2, "Summary")
    say("%d captures, %d messages: %s.  Inline, the %d blocked ones would have been "
        "refused (SMTP: 554 to the sender; IMAP/POP3: the connection reset before the "
        "message's last byte)." % (len(caps), sum(totals.values()), ", ".join(
            "%s %d" % (k, totals[k]) for k in sorted(totals)), totals.get("block", 0)), 2)
    if not totals.get("block") or not totals.get("pass"):
        return ["the replay found no blocked or no clean message"]
    return []


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    sluice = os.path.abspath(sys.argv[1])
    print("sluice demo: an inline e-mail IPS between a mail client and its servers")
    t0 = time.monotonic()
    why = "--replay" if "--replay" in sys.argv[2:] else lab_unavailable()
    bad = replay_demo(sluice, why) if why else inline_demo(sluice)
    print()
    if bad:
        say("Finished in %.0f s, but %d outcome(s) were not as expected: %s" %
            (time.monotonic() - t0, len(bad), "; ".join(bad)))
        return 1
    say("Finished in %.0f s: every outcome as expected." % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
