#!/usr/bin/python3
"""End-to-end SMTP through `sluice inline` (bridge or routed box).

Servers: aiosmtpd (stores the exact DATA/BDAT bytes) on server_ip and
server_ip6, Postfix on server_ip2.  Box: the documented ruleset with
--queue-bypass, `sluice inline` with test/rules/keywords.rules and the test
ClamAV database.  Checks, against what the servers stored:

  - several clean messages in one session (one with leading dots, one of
    2 MB) are stored byte for byte, also over IPv6;
  - PIPELINING: two messages whose commands go in one write each (the
    second message's MAIL/RCPT/DATA in the same write as the first's end of
    data) are stored; a pipelined keyword message after a clean one is
    refused while the clean one is stored;
  - BDAT: a chunked message to aiosmtpd is stored exactly, one to Postfix
    lands in its maildir (Postfix adds trace headers and writes LF);
    EICAR in BDAT to Postfix is refused and never delivered;
  - EICAR (base64 attachment), the ClamAV test marker and the keyword are
    refused with "554 5.7.1 ..." naming the virus or rule kw-bluebird, and
    nothing of them reaches the store;
  - STARTTLS: the session works end to end (message stored, TLS flag set),
    and the kernel's connmark bypass rule accepted packets without queueing,
    sluice counting bypass verdicts;
  - sluice's message events: one per inspected message, with the verdicts
    the client saw.

usage: smtp.py SLUICE_BINARY SOURCE_ROOT [bridge|routed]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (Raw, bdat_transaction, eicar_message, keyword_message,  # noqa: E402
                    lab_tls, main, maildir_messages, marker_message, message,
                    quit_quietly, send, stored, wait_for)
from mailtruth import dot_stuff  # noqa: E402


def run(lab, ctx, check):
    smtp = lab.start_smtp()
    pf = lab.start_postfix()
    ctx.rules(queue_bypass=True)
    ctx.start(rules=[os.path.join(ctx.root, "test", "rules", "keywords.rules")])
    store = smtp["store"]
    sent_ok = []          # messages that must be in the aiosmtpd store
    expect_events = {"pass": 0, "block": 0}

    # 1. Several clean messages in one session.
    dotted = message("clean-dots", body=b".leading dot\r\n..two dots\r\nplain\r\n.\r\n" * 50)
    big = message("clean-big", body_lines=30000)
    msgs = [message("clean-1"), dotted, big]
    c = ctx.smtp()
    replies = [send(c, m) for m in msgs]
    quit_quietly(c)
    check(replies == [(250, "")] * 3, "3 clean messages in one session accepted (%r)" %
          [r[0] for r in replies])
    sent_ok += msgs
    expect_events["pass"] += 3

    # 2. IPv6.
    m6 = message("clean-ipv6")
    c = ctx.smtp(host=lab.server_ip6)
    r = send(c, m6)
    quit_quietly(c)
    check(r == (250, ""), "clean message over IPv6 accepted (%r)" % (r,))
    sent_ok.append(m6)
    expect_events["pass"] += 1

    # 3. PIPELINING (RFC 2920): MAIL/RCPT/DATA in one write; the end of
    # data and the next transaction's commands in one write.
    p1, p2, p3 = message("pipe-1"), message("pipe-2"), keyword_message("pipe-kw")
    raw = Raw(ctx.tcp())
    raw.ehlo()
    cmds = b"MAIL FROM:<alice@lab.test>\r\nRCPT TO:<bob@lab.test>\r\nDATA\r\n"
    raw.send(cmds)
    first = [raw.reply()[0] for _ in range(3)]
    raw.send(dot_stuff(p1) + cmds)
    second = [raw.reply()[0] for _ in range(4)]
    raw.send(dot_stuff(p2) + cmds)
    third = [raw.reply()[0] for _ in range(4)]
    raw.send(dot_stuff(p3) + b"QUIT\r\n")
    last = smtp_reply_or_error(raw)
    raw.close()
    check(first == [250, 250, 354] and second == [250, 250, 250, 354] and
          third == [250, 250, 250, 354], "pipelined replies in order (%r %r %r)" %
          (first, second, third))
    check(last[0] == 554 and "kw-bluebird" in last[1],
          "pipelined keyword message refused naming kw-bluebird (%r)" % (last,))
    sent_ok += [p1, p2]
    expect_events["pass"] += 2
    expect_events["block"] += 1

    # 4. Refusals, each in its own session (a refused flow is ended).
    for tag, m, want in (("EICAR", eicar_message("virus-eicar"), "Sluice.Test.EICAR"),
                         ("marker", marker_message("virus-marker"), "Sluice.Test.Marker"),
                         ("keyword", keyword_message("kw-1"), "kw-bluebird")):
        c = ctx.smtp()
        r = send(c, m)
        quit_quietly(c)
        check(r[0] == 554 and r[1].startswith("5.7.1") and want in r[1],
              "%s refused: 554 5.7.1 naming %s (%r)" % (tag, want, r))
        expect_events["block"] += 1
    r = (0, "")
    c = ctx.smtp()
    r = send(c, message("clean-after-refusals"))
    quit_quietly(c)
    check(r == (250, ""), "clean message after the refusals accepted")
    sent_ok.append(message("clean-after-refusals"))
    expect_events["pass"] += 1

    # 5. BDAT to aiosmtpd (exact bytes) and to Postfix.
    b1 = message("bdat-lab", body_lines=3000)
    raw = Raw(ctx.tcp())
    raw.ehlo()
    r = bdat_transaction(raw, b1, chunk=10000)
    raw.close()
    check(r[0] == 250, "BDAT (chunks of 10000) to aiosmtpd accepted (%r)" % (r,))
    sent_ok.append(b1)
    expect_events["pass"] += 1

    bv = eicar_message("bdat-eicar")
    raw = Raw(ctx.tcp(host=lab.server_ip2))
    raw.ehlo()
    rv = bdat_transaction(raw, bv, chunk=300)
    raw.close()
    check(rv[0] == 554 and "Sluice.Test.EICAR" in rv[1],
          "EICAR in BDAT to Postfix refused with 554 naming the virus (%r)" % (rv,))
    expect_events["block"] += 1
    b2 = message("bdat-postfix", body_lines=2000)
    raw = Raw(ctx.tcp(host=lab.server_ip2))
    raw.ehlo()
    r = bdat_transaction(raw, b2, chunk=8192)
    raw.send(b"QUIT\r\n")
    raw.close()
    check(r[0] == 250, "BDAT to Postfix accepted (%r)" % (r,))
    expect_events["pass"] += 1
    lf = b2.replace(b"\r\n", b"\n")
    md = pf["maildir"]
    wait_for(lambda: any(m.endswith(lf) for m in maildir_messages(md)), 15)
    pmsgs = maildir_messages(md)
    check(sum(m.endswith(lf) for m in pmsgs) == 1,
          "Postfix delivered the BDAT message once, content intact")
    check(not any(b"bdat-eicar" in m for m in pmsgs), "Postfix never delivered the EICAR one")

    # 6. STARTTLS: bypassed after the handshake starts.
    before = ctx.rule_packets()[0]
    mt = message("clean-tls")
    c = ctx.smtp()
    c.ehlo()
    c.starttls(context=lab_tls())
    r = send(c, mt)
    quit_quietly(c)
    check(r == (250, ""), "message over STARTTLS accepted (%r)" % (r,))
    sent_ok.append(mt)
    after = ctx.rule_packets()[0]
    check(after - before >= 5, "connmark bypass rule accepted %d packets without queueing" %
          (after - before))
    time.sleep(0.2)  # stats are at most 100 ms old
    st = ctx.stats()
    check(st["verdicts"]["bypass"] >= 1, "sluice counted %d bypass verdicts" %
          st["verdicts"]["bypass"])

    # What the servers stored.
    got = stored(store)
    for m in sent_ok:
        tag = m.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
        check(got.count(m) == 1, "stored once, byte-identical: %s (%d bytes)" % (tag, len(m)))
    check(len(got) == len(sent_ok), "store holds exactly the %d accepted messages (got %d)" %
          (len(sent_ok), len(got)))
    check(not any(w in m for m in got for w in (b"virus-", b"kw-1", b"pipe-kw", b"Bluebird")),
          "nothing refused reached the store")
    meta = open(os.path.join(store, "%d.json" % (got.index(mt) + 1))).read()
    check('"tls": true' in meta, "the STARTTLS message arrived over TLS")

    # sluice's events: one message event per inspected message.
    ctx.signal(15)
    rc = ctx.proc.wait(10)
    check(rc == 0, "sluice exited 0 on SIGTERM")
    v = ctx.verdicts()
    got_ev = {"pass": v.count("pass"), "block": v.count("block")}
    check(got_ev == expect_events and len(v) == sum(expect_events.values()),
          "message events %r == expected %r" % (got_ev, expect_events))


def smtp_reply_or_error(raw):
    try:
        return raw.reply()
    except (OSError, EOFError) as e:
        return 0, repr(e)


if __name__ == "__main__":
    sys.exit(main(run))
