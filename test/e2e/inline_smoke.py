#!/usr/bin/python3
"""End-to-end smoke test of `sluice inline` on a real NFQUEUE.

Bridge lab (tools/lab): client <-> box (br0, br_netfilter) <-> server with
aiosmtpd.  In the box: the documented ruleset (connmark bypass, NFQUEUE
WITHOUT --queue-bypass, so nothing passes unless sluice gives a verdict) and
`sluice inline` with the test ClamAV database.  Then:

  1. a clean message is delivered byte for byte;
  2. a message carrying EICAR (assembled at run time) is not delivered and
     the client's SMTP library sees "554 5.7.1 ... virus Sluice.Test.EICAR";
  3. the flow of (2) ended with an `inline` event (smtp_reject), and the
     server's side got the held segment as an RST;
  4. `sluice stats` answers with the packets sluice saw;
  5. SIGTERM stops sluice within 5 s, exit status 0.

Exit 77 (skipped) when not root or when network namespaces are unavailable.
usage: inline_smoke.py SLUICE_BINARY [SOURCE_ROOT]
"""
import json
import os
import smtplib
import subprocess
import sys
import time

SKIP = 77


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    sluice = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, NFQUEUE)")
        return SKIP
    sys.path.insert(0, os.path.join(root, "tools", "lab"))
    from lab import Lab
    from mailtruth import eicar

    try:
        lab = Lab(mode="bridge")
        lab.up()
    except Exception as e:  # no netns, no veth, no bridge: not our failure
        print("SKIP: cannot build the namespace lab: %s" % e)
        return SKIP
    try:
        return run(lab, sluice, root, eicar)
    finally:
        lab.down()


def wait_for(pred, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def run(lab, sluice, root, eicar):
    failures = []

    def check(cond, what):
        print("%s: %s" % ("ok" if cond else "FAIL", what))
        if not cond:
            failures.append(what)

    smtp = lab.start_smtp()
    wd = lab.workdir
    eve, log, sock = wd + "/eve.json", wd + "/sluice.log", wd + "/stats.sock"
    for rule in (["-A", "FORWARD", "-m", "connmark", "--mark", "0x1/0x1", "-j", "ACCEPT"],
                 ["-A", "FORWARD", "-m", "mark", "--mark", "0x1/0x1",
                  "-j", "CONNMARK", "--set-mark", "0x1/0x1"],
                 ["-A", "FORWARD", "-m", "mark", "--mark", "0x1/0x1", "-j", "ACCEPT"],
                 ["-A", "FORWARD", "-p", "tcp", "-m", "mark", "!", "--mark", "0x2/0x2",
                  "-j", "NFQUEUE", "--queue-num", "0"]):
        lab.box(["iptables-legacy"] + rule)
    p = lab.spawn("box", [sluice, "inline", "--queue", "0",
                          "--clamav-db", os.path.join(root, "test", "clamav"),
                          "--eve", eve, "--stats-socket", sock, "--user", "nobody"], log=log)
    ready = wait_for(lambda: "ready:" in open(log).read() or p.poll() is not None, 60)
    if not ready or p.poll() is not None:
        print(open(log).read())
        check(False, "sluice inline started and logged ready")
        return 1
    check(True, "sluice inline ready")

    clean = (b"From: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: clean\r\n"
             b"Message-ID: <smoke-1@lab.test>\r\n\r\n" +
             b"".join(b"line %04d of a clean message, nothing to see here\r\n" % i
                      for i in range(400)))
    virus = (b"From: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: not clean\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + eicar() + b"\r\n")
    with lab.capture(wd + "/server.pcap", role="box", iface="toserver", bpf="tcp port 25"):
        with lab.netns("client"):
            c = smtplib.SMTP(lab.server_ip, timeout=20)
        try:
            refused = c.sendmail("alice@lab.test", ["bob@lab.test"], clean)
            check(refused == {}, "clean message accepted by the server")
        except Exception as e:
            check(False, "clean message accepted by the server (%r)" % e)
        reply = None
        try:
            c.sendmail("alice@lab.test", ["bob@lab.test"], virus)
        except smtplib.SMTPDataError as e:
            reply = (e.smtp_code, e.smtp_error.decode("ascii", "replace"))
        except Exception as e:
            reply = (0, repr(e))
        print("EICAR reply: %r" % (reply,))
        check(reply is not None and reply[0] == 554 and reply[1].startswith("5.7.1") and
              "Sluice.Test.EICAR" in reply[1], "EICAR refused with 554 5.7.1 naming the virus")
        try:
            c.close()
        except Exception:
            pass
        time.sleep(0.5)

    stored = sorted(f for f in os.listdir(smtp["store"]) if f.endswith(".eml"))
    bodies = [open(os.path.join(smtp["store"], f), "rb").read() for f in stored]
    check(bodies.count(clean) == 1, "clean message stored byte-identical")
    check(not any(b"EICAR" in b for b in bodies), "EICAR message not delivered")
    check(len(bodies) == 1, "exactly one message stored (got %d)" % len(bodies))

    dump = subprocess.run(["tcpdump", "-nn", "-r", wd + "/server.pcap", "tcp dst port 25"],
                          capture_output=True, text=True).stdout
    check(any("Flags [R.]" in l and "win 0" in l for l in dump.splitlines()),
          "the server got the held segment as an RST")

    st = subprocess.run(lab.nsexec("box") + [sluice, "stats", "--socket", sock],
                        capture_output=True, text=True)
    try:
        stats = json.loads(st.stdout)
        check(stats["packets"] > 0 and stats["messages"]["block"] == 1 and
              stats["refused_flows"]["smtp_replies"] == 1, "sluice stats: packets, 1 block")
    except Exception as e:
        check(False, "sluice stats answered JSON (%r, %s)" % (e, st.stderr.strip()))

    t0 = time.time()
    p.terminate()
    try:
        rc = p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "SIGTERM: exit status 0 within 5 s (got %r after %.1f s)" %
          (rc, time.time() - t0))

    events = [json.loads(l) for l in open(eve) if l.strip()]
    inl = [e for e in events if e["event_type"] == "inline"]
    check(len(inl) == 1 and inl[0]["inline"]["action"] == "smtp_reject" and
          inl[0]["inline"]["reply"].startswith("554 5.7.1"), "one inline smtp_reject event")
    msgs = [e["verdict"]["action"] for e in events if e["event_type"] == "message"]
    check(sorted(msgs) == ["block", "pass"], "message events: pass and block (got %r)" % msgs)
    check(any(e["event_type"] == "stats" for e in events), "final stats event written")
    if failures:
        print(open(log).read())
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
