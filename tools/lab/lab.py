"""Network-namespace lab: client <-> box <-> server with real mail servers.

Use from /usr/bin/python3 (Debian's interpreter: it has aiosmtpd and scapy):

    import sys; sys.path.insert(0, "tools/lab")
    from lab import Lab
    with Lab(mode="bridge") as lab:          # or mode="routed"
        lab.set_offload(False)               # clean checksums, no GSO/TSO/GRO
        smtp = lab.start_smtp()              # aiosmtpd storing server on :25
        lab.start_dovecot(maildir_seed=...)  # IMAP :143, POP3 :110
        lab.box(["iptables-legacy", "-A", "FORWARD", "-p", "tcp",
                 "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"])
        with lab.capture("out.pcap"):
            with lab.netns("client"):        # sockets made here live in the client ns
                smtplib.SMTP(lab.server_ip).sendmail(...)
    # everything is gone here, also after an exception or SIGINT/SIGTERM

Names: every namespace is "sllab-<owner pid>-<n>-<role>" and the work dir is
/tmp/sllab-<owner pid>-<n>; tools/lab/cleanup removes those whose owner is dead.
Interfaces inside the namespaces have fixed names: client "eth0", box
"toclient"/"toserver" (+ "br0" in bridge mode), server "eth0".
"""

import atexit
import contextlib
import ctypes
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
ROLES = ("client", "box", "server")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_counter = 0
_live = []
MAIL_PORTS = "25,587,143,110"


def deploy_rules(ports=MAIL_PORTS, queue_bypass=True):
    """The box's FORWARD rules of docs/deploy.md (step 3), as iptables
    arguments: connmark bypass, NF_REPEAT + mark bypass, injected packets
    (mark 2) kept out of the queue, PORTS to NFQUEUE 0."""
    return [["-A", "FORWARD", "-m", "connmark", "--mark", "0x1/0x1", "-j", "ACCEPT"],
            ["-A", "FORWARD", "-m", "mark", "--mark", "0x1/0x1", "-j", "CONNMARK",
             "--set-mark", "0x1/0x1"],
            ["-A", "FORWARD", "-m", "mark", "--mark", "0x1/0x1", "-j", "ACCEPT"],
            ["-A", "FORWARD", "-p", "tcp", "-m", "multiport", "--ports", ports,
             "-m", "mark", "!", "--mark", "0x2/0x2", "-j", "NFQUEUE", "--queue-num", "0"] +
            (["--queue-bypass"] if queue_bypass else [])]


def _sh(argv, check=True, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    r = subprocess.run(argv, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (r.returncode, " ".join(argv),
                                  (r.stderr or "").strip()))
    return r


def _teardown_all():
    for lab in list(_live):
        lab.down()


def _on_signal(signum, frame):
    # Turn the signal into an exception so with-blocks and finally clauses run.
    raise SystemExit(128 + signum)


atexit.register(_teardown_all)


class Lab:
    """One client/box/server topology.  mode: "bridge" or "routed".

    net: the second octet of the 10.x IPv4 networks and part of the IPv6
    prefix (default: derived from the owner pid).  owner: the pid whose death
    makes the lab a leftover for tools/lab/cleanup (default: this process).
    """

    def __init__(self, mode="bridge", net=None, owner=None, keep_workdir=False):
        global _counter
        if mode not in ("bridge", "routed"):
            raise ValueError("mode must be bridge or routed")
        self.mode = mode
        self.owner = owner or os.getpid()
        _counter += 1
        self.id = "sllab-%d-%d" % (self.owner, _counter)
        self.net = net if net is not None else 20 + self.owner % 200
        self.keep_workdir = keep_workdir
        self.ns = {r: "%s-%s" % (self.id, r) for r in ROLES}
        self.workdir = None
        self.procs = []          # (name, Popen) we started, killed on down()
        self.servers = {}
        self._up = False
        self._pids = []
        n = self.net
        if mode == "bridge":
            self.client_ip, self.server_ip, self.server_ip2 = (
                "10.%d.0.1" % n, "10.%d.0.2" % n, "10.%d.0.3" % n)
            self.client_ip6, self.server_ip6, self.server_ip6_2 = (
                "fd00:5c:%d::1" % n, "fd00:5c:%d::2" % n, "fd00:5c:%d::3" % n)
        else:
            self.client_ip, self.server_ip, self.server_ip2 = (
                "10.%d.1.1" % n, "10.%d.2.1" % n, "10.%d.2.3" % n)
            self.client_ip6, self.server_ip6, self.server_ip6_2 = (
                "fd00:5c:%d:1::1" % n, "fd00:5c:%d:2::1" % n, "fd00:5c:%d:2::3" % n)
        # (namespace role, interface) pairs of the four veth ends.
        self.veths = [("client", "eth0"), ("box", "toclient"), ("box", "toserver"),
                  ("server", "eth0")]

    # ---- life cycle -------------------------------------------------------

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    def up(self):
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            if threading.current_thread() is threading.main_thread() and \
               signal.getsignal(s) in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(s, _on_signal)
        _live.append(self)
        self._up = True
        self.workdir = "/tmp/%s" % self.id
        if os.path.exists(self.workdir):
            shutil.rmtree(self.workdir)
        os.makedirs(self.workdir)
        os.chmod(self.workdir, 0o755)
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        self._write_state()
        return self

    def _build(self):
        for r in ROLES:
            _sh(["ip", "netns", "add", self.ns[r]])
            self.run(r, ["ip", "link", "set", "lo", "up"])
        _sh(["ip", "link", "add", "eth0", "netns", self.ns["client"], "type", "veth",
             "peer", "name", "toclient", "netns", self.ns["box"]])
        _sh(["ip", "link", "add", "eth0", "netns", self.ns["server"], "type", "veth",
             "peer", "name", "toserver", "netns", self.ns["box"]])
        for r, ifc in self.veths:
            self.run(r, ["ip", "link", "set", ifc, "up"])
        for r in ("client", "server"):
            # No DAD/RS noise in captures and no wait for tentative addresses.
            self.run(r, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                     "net.ipv6.conf.eth0.accept_dad=0",
                     "net.ipv6.conf.eth0.router_solicitations=0"], check=False)
        if self.mode == "bridge":
            self._bridge()
        else:
            self._routed()
        self.set_offload(False)

    def _bridge(self):
        b = "box"
        self.run(b, ["ip", "link", "add", "br0", "type", "bridge", "stp_state", "0",
                 "forward_delay", "0"])
        for ifc in ("toclient", "toserver"):
            self.run(b, ["ip", "link", "set", ifc, "master", "br0"])
        self.run(b, ["sysctl", "-qw", "net.ipv6.conf.br0.disable_ipv6=1"], check=False)
        self.run(b, ["ip", "link", "set", "br0", "up"])
        # br_netfilter is built in or a module; the sysctls are per namespace.
        if not os.path.exists("/proc/sys/net/bridge"):
            _sh(["modprobe", "br_netfilter"], check=False)
        self.run(b, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1",
                 "net.bridge.bridge-nf-call-ip6tables=1"])
        self.run("client", ["ip", "addr", "add", self.client_ip + "/24", "dev", "eth0"])
        self.run("client", ["ip", "-6", "addr", "add", self.client_ip6 + "/64", "dev",
                    "eth0", "nodad"])
        for a in (self.server_ip, self.server_ip2):
            self.run("server", ["ip", "addr", "add", a + "/24", "dev", "eth0"])
        for a in (self.server_ip6, self.server_ip6_2):
            self.run("server", ["ip", "-6", "addr", "add", a + "/64", "dev", "eth0",
                        "nodad"])

    def _routed(self):
        n = self.net
        b = "box"
        self.run(b, ["ip", "addr", "add", "10.%d.1.254/24" % n, "dev", "toclient"])
        self.run(b, ["ip", "addr", "add", "10.%d.2.254/24" % n, "dev", "toserver"])
        self.run(b, ["ip", "-6", "addr", "add", "fd00:5c:%d:1::fe/64" % n, "dev",
                 "toclient", "nodad"])
        self.run(b, ["ip", "-6", "addr", "add", "fd00:5c:%d:2::fe/64" % n, "dev",
                 "toserver", "nodad"])
        self.run(b, ["sysctl", "-qw", "net.ipv4.ip_forward=1",
                 "net.ipv6.conf.all.forwarding=1"])
        self.run("client", ["ip", "addr", "add", self.client_ip + "/24", "dev", "eth0"])
        self.run("client", ["ip", "-6", "addr", "add", self.client_ip6 + "/64", "dev",
                    "eth0", "nodad"])
        self.run("client", ["ip", "route", "add", "default", "via", "10.%d.1.254" % n])
        self.run("client", ["ip", "-6", "route", "add", "default", "via",
                    "fd00:5c:%d:1::fe" % n])
        for a in (self.server_ip, self.server_ip2):
            self.run("server", ["ip", "addr", "add", a + "/24", "dev", "eth0"])
        for a in (self.server_ip6, self.server_ip6_2):
            self.run("server", ["ip", "-6", "addr", "add", a + "/64", "dev", "eth0",
                        "nodad"])
        self.run("server", ["ip", "route", "add", "default", "via", "10.%d.2.254" % n])
        self.run("server", ["ip", "-6", "route", "add", "default", "via",
                    "fd00:5c:%d:2::fe" % n])

    def down(self):
        """Kill what we started, delete the namespaces (and so the veths and
        the bridge) and the work dir.  Safe to call twice and after a failure."""
        if not self._up:
            return
        self._up = False
        for name, p in reversed(self.procs):
            _stop(p)
        self.procs = []
        for pid in self._pids:  # processes of a lab re-attached from its state file
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        if self._pids:
            time.sleep(0.5)
        for r in ROLES:
            ns = self.ns[r]
            pids = _sh(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:  # stragglers (daemon children) inside our own namespace
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _sh(["ip", "netns", "del", ns], check=False)
        if self.workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self in _live:
            _live.remove(self)

    def detach(self):
        """Leave the lab running after this process exits (for the CLI):
        no teardown at exit; `tools/lab/lab down ID` or tools/lab/cleanup
        (once the owner pid is dead) removes it."""
        self._pids += [p.pid for _, p in self.procs]
        self.procs = []
        self._write_state()
        if self in _live:
            _live.remove(self)

    @classmethod
    def attach(cls, lab_id):
        """The lab LAB_ID from its state file, e.g. to tear it down."""
        with open("/tmp/%s/state.json" % lab_id) as f:
            st = json.load(f)
        lab = cls(mode=st["mode"], net=st["net"], owner=st["owner"])
        lab.id, lab.ns, lab.workdir = st["id"], st["ns"], st["workdir"]
        lab.servers, lab._pids = st["servers"], st["pids"]
        lab._up = True
        _live.append(lab)
        return lab

    def _write_state(self):
        st = {k: getattr(self, k) for k in ("id", "mode", "net", "owner", "workdir",
                             "client_ip", "server_ip", "server_ip2",
                             "client_ip6", "server_ip6", "server_ip6_2")}
        st["ns"] = self.ns
        st["servers"] = self.servers
        st["pids"] = self._pids + [p.pid for _, p in self.procs]
        with open(os.path.join(self.workdir, "state.json"), "w") as f:
            json.dump(st, f, indent=1)

    def env(self):
        """Shell variables describing the lab (what `tools/lab/lab up` prints)."""
        e = {"LAB_ID": self.id, "LAB_MODE": self.mode, "LAB_WORKDIR": self.workdir,
             "LAB_CLIENT_NS": self.ns["client"], "LAB_BOX_NS": self.ns["box"],
             "LAB_SERVER_NS": self.ns["server"], "LAB_CLIENT_IP": self.client_ip,
             "LAB_SERVER_IP": self.server_ip, "LAB_SERVER_IP2": self.server_ip2,
             "LAB_CLIENT_IP6": self.client_ip6, "LAB_SERVER_IP6": self.server_ip6}
        return e

    # ---- running things ---------------------------------------------------

    def nsexec(self, role):
        """argv prefix that runs a command in ROLE's namespace."""
        return ["ip", "netns", "exec", self.ns[role]]

    def run(self, role, argv, check=True, **kw):
        """Run argv to completion in ROLE's namespace (stdout/stderr captured
        as text unless given)."""
        return _sh(self.nsexec(role) + list(argv), check=check, **kw)

    def box(self, argv, check=True, **kw):
        """The hook for inline tests: run argv in the box namespace, where
        sluice and its NFQUEUE rules go."""
        return self.run("box", argv, check=check, **kw)

    def queue_rules(self, ports=MAIL_PORTS, queue_bypass=True,
                    tools=("iptables-legacy", "ip6tables-legacy")):
        """deploy_rules() appended to the box's FORWARD chain by each of
        TOOLS; returns the rules."""
        rules = deploy_rules(ports, queue_bypass)
        for r in rules:
            for t in tools:
                self.box([t] + r)
        return rules

    def spawn(self, role, argv, name=None, log=None, **kw):
        """Start argv in ROLE's namespace in the background; it is killed by
        pid on down().  Output goes to LOG (default workdir/<name>.log)."""
        name = name or os.path.basename(argv[0])
        log = log or os.path.join(self.workdir, name + ".log")
        out = open(log, "ab")
        p = subprocess.Popen(self.nsexec(role) + list(argv), stdout=out, stderr=out,
                     stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        out.close()
        p.log = log
        self.procs.append((name, p))
        self._write_state()
        return p

    def stop(self, p):
        _stop(p)
        self.procs = [(n, q) for n, q in self.procs if q is not p]

    @contextlib.contextmanager
    def netns(self, role):
        """Switch the calling thread into ROLE's namespace: sockets created
        inside the block belong to it (and keep working after the block)."""
        old = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        new = os.open("/run/netns/" + self.ns[role], os.O_RDONLY)
        try:
            if _libc.setns(new, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns " + self.ns[role])
            yield
        finally:
            _libc.setns(old, CLONE_NEWNET)
            os.close(old)
            os.close(new)

    def wait_port(self, host, port, role="client", timeout=15.0):
        """Wait until HOST:PORT accepts a TCP connection from ROLE's namespace."""
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        end = time.monotonic() + timeout
        while True:
            with self.netns(role):
                s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(1.0)
            try:
                s.connect((host, port))
                s.close()
                return
            except OSError:
                s.close()
                if time.monotonic() > end:
                    raise TimeoutError("%s:%d not listening" % (host, port))
                time.sleep(0.1)

    # ---- interfaces -------------------------------------------------------

    def set_offload(self, on, which=None, features=("tx", "tso", "gso", "gro")):
        """ethtool -K FEATURES on|off on the veth ends in WHICH (a list of
        (role, ifname) pairs; default all four).  With tx checksum offload on,
        captures show partial (bad) checksums; with TSO/GSO on, up to 64 KiB
        segments cross the veths and the bridge."""
        arg = []
        for f in features:
            arg += [f, "on" if on else "off"]
        for role, ifc in (which or self.veths):
            self.run(role, ["ethtool", "-K", ifc] + arg)

    def offload_state(self, role, ifc):
        out = self.run(role, ["ethtool", "-k", ifc]).stdout
        return {l.split(":")[0].strip(): l.split(":")[1].split()[0]
            for l in out.splitlines()[1:] if ":" in l}

    # ---- capture ----------------------------------------------------------

    @contextlib.contextmanager
    def capture(self, path, role="box", iface="toclient", bpf=None, snaplen=0):
        """tcpdump -s SNAPLEN -U into PATH (pcap) on IFACE in ROLE's namespace
        for the duration of the block.  In both modes box/toclient sees the
        whole client<->server conversation.  libpcap sizes its ring frames
        by the MTU when IFACE has no offload on: to capture GSO super-frames
        intact, turn an offload on on IFACE too (see set_offload)."""
        argv = ["tcpdump", "-i", iface, "-s", str(snaplen), "-U", "-n", "-Z", "root",
                "--immediate-mode", "-w", path]
        if bpf:
            argv += bpf.split() if isinstance(bpf, str) else list(bpf)
        name = "tcpdump-" + os.path.basename(path)
        for f in (path, os.path.join(self.workdir, name + ".log")):
            if os.path.exists(f):
                os.unlink(f)
        p = self.spawn(role, argv, name=name)
        end = time.monotonic() + 10
        while True:  # tcpdump says "listening on" once the socket is bound
            with open(p.log, "rb") as f:
                if b"listening on" in f.read():
                    break
            if p.poll() is not None or time.monotonic() > end:
                raise RuntimeError("tcpdump did not start: " + open(p.log).read())
            time.sleep(0.05)
        try:
            yield path
        finally:
            time.sleep(0.3)  # let the last FIN/ACK cross
            p.send_signal(signal.SIGINT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
            self.stop(p)

    # ---- certificates -----------------------------------------------------

    def cert(self, cn="mail.lab.test"):
        """A self-signed RSA certificate and key (made once per lab)."""
        d = os.path.join(self.workdir, "tls")
        crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        if not os.path.exists(crt):
            os.makedirs(d, exist_ok=True)
            _sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                 "3650", "-subj", "/CN=" + cn, "-keyout", key, "-out", crt])
            os.chmod(key, 0o644)  # dovecot reads it as root; the dir is ours
        return crt, key

    # ---- servers ----------------------------------------------------------

    def start_smtp(self, hosts=None, port=25, name="smtp", tls=True, auth_users=None,
               reject_rcpt=("reject@lab.test",), reject_data_marker="X-Lab-Reject: data",
               bdat=True):
        """aiosmtpd in the server namespace that stores exactly what it
        accepts: <store>/<n>.eml (raw DATA/BDAT content, dot-unstuffed) and
        <n>.json (envelope, auth user, TLS, reply).  Also answers 5xx to
        RCPT TO REJECT_RCPT and to DATA for a message containing
        REJECT_DATA_MARKER (it still stores that one, with the reply).
        Returns a dict with "store" (directory) and "log"."""
        hosts = hosts or [self.server_ip, self.server_ip6]
        store = os.path.join(self.workdir, name + "-store")
        os.makedirs(store, exist_ok=True)
        ready = os.path.join(self.workdir, name + ".ready")
        argv = [PY, os.path.join(HERE, "smtp_server.py"), "--port", str(port),
            "--store", store, "--ready", ready]
        for h in hosts:
            argv += ["--host", h]
        if tls:
            crt, key = self.cert()
            argv += ["--cert", crt, "--key", key]
        for u, pw in (auth_users or {"alice@lab.test": "wonderland"}).items():
            argv += ["--user", "%s:%s" % (u, pw)]
        for r in reject_rcpt:
            argv += ["--reject-rcpt", r]
        if reject_data_marker:
            argv += ["--reject-data-marker", reject_data_marker]
        if not bdat:
            argv += ["--no-bdat"]
        p = self.spawn("server", argv, name=name)
        _wait_file(ready, p)
        info = {"store": store, "log": p.log, "port": port, "hosts": hosts, "pid": p.pid}
        self.servers[name] = info
        self._write_state()
        return info

    def start_dovecot(self, users=None, seed=None, port_imap=143, port_pop3=110,
              hosts=None):
        """Dovecot (imap + pop3) with its own config (-c) under the work dir:
        passwd-file USERS {user: password}, maildir ~/Maildir under the work
        dir owned by 'nobody', STARTTLS/STLS with a self-signed cert, the
        imap_zlib plugin (COMPRESS=DEFLATE).  SEED {user: [bytes, ...]} fills
        each user's INBOX (maildir 'new/') with those messages in order.
        Returns a dict with "maildirs" {user: path}."""
        from dovecot_conf import dovecot_config
        users = users or {"alice": "wonderland"}
        hosts = hosts or [self.server_ip, self.server_ip6]
        d = os.path.join(self.workdir, "dovecot")
        os.makedirs(d, exist_ok=True)
        crt, key = self.cert()
        nobody = pwd.getpwnam("nobody")
        maildirs = {}
        with open(os.path.join(d, "passwd"), "w") as f:
            for u, pw in users.items():
                home = os.path.join(d, "home", u)
                md = os.path.join(home, "Maildir")
                for sub in ("cur", "new", "tmp"):
                    os.makedirs(os.path.join(md, sub), exist_ok=True)
                for i, msg in enumerate((seed or {}).get(u, [])):
                    # Fixed names keep the UID order equal to the seed order.
                    fn = os.path.join(md, "new", "%d.M%dP1.lab" % (1700000000 + i, i))
                    with open(fn, "wb") as mf:
                        mf.write(msg)
                maildirs[u] = md
                f.write("%s:{PLAIN}%s:%d:%d::%s\n" % (u, pw, nobody.pw_uid,
                                  nobody.pw_gid, home))
        for root, dirs, files in os.walk(os.path.join(d, "home")):
            os.chown(root, nobody.pw_uid, nobody.pw_gid)
            for fn in files:
                os.chown(os.path.join(root, fn), nobody.pw_uid, nobody.pw_gid)
        conf = os.path.join(d, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(dovecot_config(d, hosts, crt, key, port_imap, port_pop3,
                           nobody.pw_uid))
        p = self.spawn("server", ["dovecot", "-F", "-c", conf], name="dovecot")
        for port in (port_imap, port_pop3):
            self.wait_port(hosts[0], port)
        info = {"conf": conf, "maildirs": maildirs, "log": p.log,
            "ports": [port_imap, port_pop3], "pid": p.pid}
        self.servers["dovecot"] = info
        self._write_state()
        return info

    def start_postfix(self, host=None, port=25):
        """A private Postfix instance (config_directory, queue_directory and
        data_directory under the work dir, chroot off) listening on HOST
        (default server_ip2) that accepts mail for any recipient and
        delivers it with the virtual agent into one maildir.  It speaks
        ESMTP with PIPELINING, CHUNKING (BDAT), 8BITMIME.  Returns a dict
        with "maildir"."""
        from postfix_conf import postfix_setup
        host = host or self.server_ip2
        info = postfix_setup(self, os.path.join(self.workdir, "postfix"), host, port)
        p = self.spawn("server", ["/usr/sbin/postfix", "-c", info["conf"], "start-fg"],
                   name="postfix")
        self.wait_port(host, port, timeout=30)
        info.update({"log": p.log, "pid": p.pid, "host": host, "port": port})
        self.servers["postfix"] = info
        self._write_state()
        return info


def _stop(p, grace=3.0):
    if p.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, signal.SIGTERM)  # own session: the group is ours
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)


def _wait_file(path, p, timeout=20.0):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if p.poll() is not None or time.monotonic() > end:
            raise RuntimeError("server did not start; log %s:\n%s" %
                       (p.log, open(p.log, errors="replace").read()[-2000:]))
        time.sleep(0.05)
