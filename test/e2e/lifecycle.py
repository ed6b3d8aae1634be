#!/usr/bin/python3
"""End-to-end: stopping and killing `sluice inline` (bridge box, aiosmtpd).

  1. SIGTERM with a message held: the client has sent a message up to its
     final "\\r\\n." (the "\\r\\n" not yet sent: sluice cannot tell the end of
     data from a dot-stuffed line, so it holds that packet).  SIGTERM: the
     client gets "451 4.7.1 ...", sluice exits 0 within 5 s, an inline
     smtp_tempfail event is written, and the server never stores the
     message.
  2. SIGKILL with the --queue-bypass rule (fail open): a session opened
     before the kill and a new one after it both deliver their messages
     (byte-identical; the second carries the ClamAV test marker and is
     delivered uninspected: that is what failing open means).
  3. A restarted sluice inspects again: the marker message is refused (554).
  4. SIGKILL with the rule WITHOUT --queue-bypass (fail closed): a new
     connection to port 25 cannot even be opened.

usage: lifecycle.py SLUICE_BINARY SOURCE_ROOT [bridge|routed]
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (Raw, main, marker_message, message, quit_quietly, send,  # noqa: E402
                    stored, wait_for)


def run(lab, ctx, check):
    smtp = lab.start_smtp()
    store = smtp["store"]
    ctx.rules(queue_bypass=True)
    ctx.start()
    delivered = []

    # 1. SIGTERM with a held packet.
    c = ctx.smtp()
    m0 = message("before-term")
    check(send(c, m0) == (250, ""), "clean message delivered while sluice runs")
    quit_quietly(c)
    delivered.append(m0)
    held = message("held-at-term")
    raw = Raw(ctx.tcp())
    raw.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    raw.ehlo()
    for cmd in (b"MAIL FROM:<alice@lab.test>\r\n", b"RCPT TO:<bob@lab.test>\r\n", b"DATA\r\n"):
        raw.send(cmd)
        raw.reply()
    raw.send(held + b"\r\n.")
    ok = wait_for(lambda: ctx.stats()["held"]["now"] >= 1, 10, step=0.1)
    check(ok, "sluice holds the packet with the final \\r\\n.")
    t0 = time.monotonic()
    ctx.signal(signal.SIGTERM)
    try:
        reply = raw.reply()
    except (OSError, EOFError) as e:
        reply = (0, repr(e))
    try:
        rc = ctx.proc.wait(5)
    except Exception:
        rc = None
    raw.close()
    check(reply[0] == 451 and reply[1].startswith("4.7.1"),
          "client got 451 4.7.1 at SIGTERM (%r)" % (reply,))
    check(rc == 0, "sluice exited 0 after %.2f s (rc %r)" % (time.monotonic() - t0, rc))
    inl = ctx.events("inline")
    check(len(inl) == 1 and inl[0]["inline"]["action"] == "smtp_tempfail",
          "one inline smtp_tempfail event")
    check(not any(b"held-at-term" in m for m in stored(store)), "held message never stored")

    # 2. SIGKILL with --queue-bypass: fail open.
    ctx.start()
    before = ctx.smtp()
    before.ehlo()
    m1 = message("before-kill")
    check(send(before, m1) == (250, ""), "sluice restarted: clean message delivered")
    delivered.append(m1)
    ctx.proc.kill()
    ctx.proc.wait(5)
    m2 = message("after-kill-same-session")
    r2 = send(before, m2)
    quit_quietly(before)
    check(r2 == (250, ""), "after SIGKILL: a session opened before delivers (%r)" % (r2,))
    delivered.append(m2)
    m3 = marker_message("after-kill-marker")
    c = ctx.smtp()
    r3 = send(c, m3)
    quit_quietly(c)
    check(r3 == (250, ""), "after SIGKILL: a new session delivers, uninspected (%r)" % (r3,))
    delivered.append(m3)

    # 3. Restarted: inspection again.
    ctx.start()
    c = ctx.smtp()
    r4 = send(c, marker_message("restarted-marker"))
    quit_quietly(c)
    check(r4[0] == 554 and "Sluice.Test.Marker" in r4[1],
          "restarted sluice refuses the marker message (%r)" % (r4,))
    got = stored(store)
    for m in delivered:
        check(got.count(m) == 1, "stored once, byte-identical: %s" %
              m.split(b"Subject: ")[1].split(b"\r\n")[0].decode())
    check(len(got) == len(delivered), "store holds exactly %d messages" % len(delivered))

    # 4. Without --queue-bypass: fail closed.
    ctx.proc.kill()
    ctx.proc.wait(5)
    ctx.flush_rules()
    ctx.rules(queue_bypass=False)
    try:
        s = ctx.tcp(timeout=2)
        s.close()
        blocked = None
    except OSError as e:
        blocked = e
    check(isinstance(blocked, (socket.timeout, TimeoutError)),
          "no sluice, no --queue-bypass: connect to :25 times out (%r)" % (blocked,))
    check(len(stored(store)) == len(delivered), "nothing more stored")


if __name__ == "__main__":
    sys.exit(main(run))
