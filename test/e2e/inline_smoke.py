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
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import eicar, main, send, stored  # noqa: E402


def run(lab, ctx, check):
    smtp = lab.start_smtp()
    wd = lab.workdir
    ctx.rules(queue_bypass=False)
    ctx.start()
    check(True, "sluice inline ready")

    clean = (b"From: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: clean\r\n"
             b"Message-ID: <smoke-1@lab.test>\r\n\r\n" +
             b"".join(b"line %04d of a clean message, nothing to see here\r\n" % i
                      for i in range(400)))
    virus = (b"From: alice@lab.test\r\nTo: bob@lab.test\r\nSubject: not clean\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + eicar() + b"\r\n")
    with lab.capture(wd + "/server.pcap", role="box", iface="toserver", bpf="tcp port 25"):
        c = ctx.smtp()
        check(send(c, clean) == (250, ""), "clean message accepted by the server")
        reply = send(c, virus)
        print("EICAR reply: %r" % (reply,))
        check(reply[0] == 554 and reply[1].startswith("5.7.1") and
              "Sluice.Test.EICAR" in reply[1], "EICAR refused with 554 5.7.1 naming the virus")
        c.close()
        time.sleep(0.5)

    bodies = stored(smtp["store"])
    check(bodies.count(clean) == 1, "clean message stored byte-identical")
    check(not any(b"EICAR" in b for b in bodies), "EICAR message not delivered")
    check(len(bodies) == 1, "exactly one message stored (got %d)" % len(bodies))

    dump = subprocess.run(["tcpdump", "-nn", "-r", wd + "/server.pcap", "tcp dst port 25"],
                          capture_output=True, text=True).stdout
    check(any("Flags [R.]" in l and "win 0" in l for l in dump.splitlines()),
          "the server got the held segment as an RST")

    try:
        stats = ctx.stats()
        check(stats["packets"] > 0 and stats["messages"]["block"] == 1 and
              stats["refused_flows"]["smtp_replies"] == 1, "sluice stats: packets, 1 block")
    except Exception as e:
        check(False, "sluice stats answered JSON (%r)" % e)

    t0 = time.time()
    ctx.proc.terminate()
    try:
        rc = ctx.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "SIGTERM: exit status 0 within 5 s (got %r after %.1f s)" %
          (rc, time.time() - t0))

    inl = ctx.events("inline")
    check(len(inl) == 1 and inl[0]["inline"]["action"] == "smtp_reject" and
          inl[0]["inline"]["reply"].startswith("554 5.7.1"), "one inline smtp_reject event")
    msgs = ctx.verdicts()
    check(sorted(msgs) == ["block", "pass"], "message events: pass and block (got %r)" % msgs)
    check(bool(ctx.events("stats")), "final stats event written")


if __name__ == "__main__":
    sys.exit(main(run))
