"""tools/lab/lab selftest: checks the lab end to end (root, a few seconds).

For both modes: IPv4 and IPv6 SMTP from client to server through the box,
byte-exact storage, Dovecot IMAP login, Postfix; offload off gives valid
checksums and MTU-sized frames, offload on gives unverifiable checksums and
GSO super-frames; the NFQUEUE path in the box (iptables-legacy FORWARD,
ip6tables-legacy for IPv6): with --queue-bypass and no listener traffic
passes, without it traffic is blocked, and with an accept-all listener
(nfq_accept.c) it passes again and the listener saw the packets.  Then
teardown on SIGTERM and tools/lab/cleanup after SIGKILL.
"""

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time

from lab import HERE, PY, Lab, _sh

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s: %s%s" % ("ok  " if ok else "FAIL", name, (" (%s)" % detail) if detail else ""))
    sys.stdout.flush()


def connects(lab, host, port=25, timeout=2.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with lab.netns("client"):
        s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        banner = s.recv(100)
        return banner.startswith(b"220")
    except OSError:
        return False
    finally:
        s.close()


def tshark(path, fields, flt):
    r = _sh(["tshark", "-r", path, "-o", "tcp.check_checksum:TRUE", "-Y", flt, "-T", "fields"] +
            sum((["-e", f] for f in fields), []), check=False)
    return [l.split("\t") for l in r.stdout.splitlines() if l]


def send(lab, host, body):
    with lab.netns("client"):
        c = smtplib.SMTP(host, 25, local_hostname="client.lab.test")
    c.sendmail("a@lab.test", ["b@lab.test"], body)
    c.quit()


def nfqueue_checks(lab, nfq_bin):
    for ipt, host in (("iptables-legacy", lab.server_ip), ("ip6tables-legacy", lab.server_ip6)):
        rule = ["-A", "FORWARD", "-p", "tcp", "-j", "NFQUEUE", "--queue-num", "0"]
        lab.box([ipt] + rule + ["--queue-bypass"])
        check("%s %s: --queue-bypass, no listener: traffic passes" % (lab.mode, ipt),
              connects(lab, host))
        lab.box([ipt, "-F", "FORWARD"])
        lab.box([ipt] + rule)
        check("%s %s: no bypass, no listener: traffic blocked" % (lab.mode, ipt),
              not connects(lab, host))
        p = lab.spawn("box", [nfq_bin, "0"], name="nfq_accept")
        for _ in range(50):
            if b"ready" in open(p.log, "rb").read():
                break
            time.sleep(0.1)
        ok = connects(lab, host)
        lab.stop(p)
        seen = open(p.log).read().split("packets ")[-1].strip()
        check("%s %s: no bypass, accept-all listener: traffic passes through the queue" %
              (lab.mode, ipt), ok and seen.isdigit() and int(seen) > 0, "%s packets" % seen)
        os.unlink(p.log)
        lab.box([ipt, "-F", "FORWARD"])


def one_mode(mode, nfq_bin):
    with Lab(mode=mode) as lab:
        smtp = lab.start_smtp()
        lab.start_dovecot()
        pf = lab.start_postfix()
        body = b"Subject: selftest\r\n\r\n.leading dot\r\nline\r\n"
        for host in (lab.server_ip, lab.server_ip6):
            send(lab, host, body)
        stored = [open(os.path.join(smtp["store"], "%d.eml" % i), "rb").read() for i in (1, 2)]
        check("%s: SMTP over IPv4 and IPv6 stored byte-exact" % mode, stored == [body, body])
        import imaplib
        with lab.netns("client"):
            m = imaplib.IMAP4(lab.server_ip)
        m.login("alice", "wonderland")
        caps = m.capability()[1][0].decode().split()
        m.logout()
        check("%s: Dovecot IMAP login, COMPRESS=DEFLATE offered" % mode,
              "COMPRESS=DEFLATE" in caps)
        send(lab, lab.server_ip2, body)
        new = os.path.join(pf["maildir"], "new")
        for _ in range(50):
            if os.listdir(new):
                break
            time.sleep(0.1)
        got = [open(os.path.join(new, f), "rb").read() for f in os.listdir(new)]
        check("%s: Postfix delivered to its maildir" % mode,
              len(got) == 1 and got[0].endswith(body.replace(b"\r\n", b"\n")))

        big = b"Subject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * 4000
        pcap = os.path.join(lab.workdir, "off.pcap")
        with lab.capture(pcap):
            send(lab, lab.server_ip, big)
        bad = tshark(pcap, ["frame.number"], "tcp.checksum.status == 0")
        maxlen = max(int(r[0]) for r in tshark(pcap, ["frame.len"], "tcp"))
        check("%s: offload off: all TCP checksums valid, frames <= 1514" % mode,
              not bad and maxlen <= 1514, "max frame %d" % maxlen)
        lab.set_offload(True)
        with lab.capture(pcap):
            send(lab, lab.server_ip, big)
        bad = tshark(pcap, ["frame.number"], "tcp.checksum.status == 0")
        maxlen = max(int(r[0]) for r in tshark(pcap, ["frame.len"], "tcp"))
        check("%s: offload on: bad (partial) checksums and GSO frames > MTU" % mode,
              len(bad) > 0 and maxlen > 1514, "%d bad, max frame %d" % (len(bad), maxlen))
        lab.set_offload(False)
        nfqueue_checks(lab, nfq_bin)
        ids = lab.ns.values()
    left = _sh(["ip", "netns", "list"]).stdout
    check("%s: namespaces gone after the with-block" % mode, not any(n in left for n in ids))


def teardown_checks():
    code = ("import sys, time; sys.path.insert(0, %r); from lab import Lab; "
            "lab = Lab(); lab.up(); lab.start_smtp(); print(lab.id, flush=True); "
            "time.sleep(60)" % HERE)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        p = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
        lab_id = p.stdout.readline().strip()
        p.send_signal(sig)
        p.wait(20)
        if sig == signal.SIGKILL:
            _sh([os.path.join(HERE, "cleanup")])
        left = _sh(["ip", "netns", "list"]).stdout
        gone = lab_id and lab_id not in left and not os.path.exists("/tmp/" + lab_id)
        check("teardown after %s%s" % (signal.Signals(sig).name,
                                        " + tools/lab/cleanup" if sig == signal.SIGKILL else ""),
              bool(gone), lab_id)


def selftest():
    if os.geteuid() != 0:
        print("selftest needs root")
        return 2
    nfq_bin = "/tmp/sllab-nfq_accept-%d" % os.getpid()
    _sh(["cc", "-O2", "-o", nfq_bin, os.path.join(HERE, "nfq_accept.c"), "-lnetfilter_queue"])
    try:
        for mode in ("bridge", "routed"):
            one_mode(mode, nfq_bin)
        teardown_checks()
    finally:
        os.unlink(nfq_bin)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1
