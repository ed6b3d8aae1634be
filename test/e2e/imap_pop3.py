#!/usr/bin/python3
"""End-to-end IMAP and POP3 through `sluice inline` (bridge or routed box).

Dovecot in the server namespace with alice's INBOX pre-filled: UID 1 clean,
2 EICAR (base64 attachment after 130 kB of text), 3 clean, 4 the ClamAV test marker.  Box: the
documented ruleset with --queue-bypass and `sluice inline` with the test
ClamAV database.  Checks:

  - IMAP FETCH of a clean message (imaplib) returns it byte for byte;
  - IMAP FETCH of an infected message (EICAR, marker) never completes: no
    tagged OK, the connection is reset or closed, and the bytes the client
    received do not contain the message;
  - IMAP APPEND of a clean message works and lands in the maildir; APPEND
    of an infected one, with a synchronizing literal and with LITERAL+,
    never completes (no tagged OK) and is not in the maildir;
  - POP3 RETR of a clean message (poplib) returns it; RETR of an infected
    one never completes and the client does not get the message;
  - IMAP STARTTLS: login and FETCH work over TLS, and the kernel's connmark
    bypass rule accepted packets without queueing;
  - the server's INBOX afterwards holds exactly the 4 seeds + the clean
    APPEND (a fresh SELECT says 5 EXISTS).

usage: imap_pop3.py SLUICE_BINARY SOURCE_ROOT [bridge|routed]
"""
import imaplib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (Raw, eicar_message, lab_tls, main, maildir_messages,  # noqa: E402
                    marker_message, message)

USER, PASSWORD = "alice", "wonderland"


def imap_login(ctx):
    raw = Raw(ctx.tcp(port=143))
    raw.line()
    for tag, cmd in ((b"a1", b"LOGIN alice wonderland"), (b"a2", b"SELECT INBOX")):
        raw.send(tag + b" " + cmd + b"\r\n")
        while not raw.line().startswith(tag + b" OK"):
            pass
    return raw


def until_tagged(raw, tag):
    """Read until the tagged reply TAG: (reply line or None, error or None)."""
    try:
        while True:
            ln = raw.line()
            if ln.startswith(tag + b" "):
                return ln, None
    except (OSError, EOFError) as e:
        return None, e


def normalized(b):
    return b.replace(b"\r\n", b"\n")


def run(lab, ctx, check):
    seeds = [message("seed-clean-1", body_lines=500), eicar_message("seed-eicar", pad_lines=3000),
             message("seed-clean-3", body_lines=3000), marker_message("seed-marker")]
    dc = lab.start_dovecot(users={USER: PASSWORD}, seed={USER: seeds})
    md = dc["maildirs"][USER]
    ctx.rules(queue_bypass=True)
    ctx.start()

    # Clean FETCH with imaplib.
    m = ctx.imap()
    m.login(USER, PASSWORD)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    check(typ == "OK" and data[0][1] == seeds[0], "IMAP FETCH 1 (clean) byte-identical")
    typ, data = m.fetch("3", "(BODY.PEEK[])")
    check(typ == "OK" and data[0][1] == seeds[2], "IMAP FETCH 3 (clean, %d bytes) byte-identical"
          % len(seeds[2]))
    m.logout()

    # Infected FETCH: never completes at the client.
    for n, name in ((2, "EICAR"), (4, "marker")):
        raw = imap_login(ctx)
        raw.send(b"a3 FETCH %d BODY.PEEK[]\r\n" % n)
        tagged, err = until_tagged(raw, b"a3")
        raw.close()
        lit = raw.got.split(b"FETCH (BODY[] {", 1)
        check(tagged is None and err is not None,
              "IMAP FETCH %d (%s): no tagged reply, connection ended (%r)" % (n, name, err))
        n_lit = len(lit[1]) if len(lit) > 1 else 0
        check(seeds[n - 1] not in raw.got and n_lit < len(seeds[n - 1]),
              "IMAP FETCH %d (%s): the client did not receive the message (%d of %d bytes "
              "after the literal's start)" % (n, name, n_lit, len(seeds[n - 1])))
    # imaplib itself raises on such a fetch.
    m = ctx.imap()
    m.login(USER, PASSWORD)
    m.select("INBOX")
    try:
        m.fetch("2", "(BODY.PEEK[])")
        raised = None
    except (imaplib.IMAP4.abort, OSError) as e:
        raised = e
    check(raised is not None, "imaplib's FETCH 2 raised (%r)" % (raised,))

    # APPEND: clean with imaplib, infected with a synchronizing literal and
    # with LITERAL+.
    clean = message("append-clean", body_lines=400)
    m = ctx.imap()
    m.login(USER, PASSWORD)
    typ, _ = m.append("INBOX", None, None, clean)
    m.logout()
    check(typ == "OK", "IMAP APPEND (clean) OK")
    for name, bad, plus in (("EICAR", eicar_message("append-eicar"), False),
                            ("marker, LITERAL+", marker_message("append-marker"), True)):
        raw = imap_login(ctx)
        if plus:
            raw.send(b"a3 APPEND INBOX {%d+}\r\n" % len(bad) + bad + b"\r\n")
        else:
            raw.send(b"a3 APPEND INBOX {%d}\r\n" % len(bad))
            cont = raw.line()
            raw.send(bad + b"\r\n")
            check(cont.startswith(b"+"), "APPEND (%s): server asked for the literal" % name)
        tagged, err = until_tagged(raw, b"a3")
        raw.close()
        check(tagged is None, "IMAP APPEND (%s): no tagged reply, connection ended (%r)" %
              (name, err))
    stored_msgs = [normalized(x) for x in maildir_messages(md)]
    check(stored_msgs.count(normalized(clean)) == 1, "the clean APPEND is in the maildir")
    check(not any(b"append-eicar" in x or b"append-marker" in x for x in stored_msgs),
          "neither infected APPEND is in the maildir")
    tmp = os.path.join(md, "tmp")
    check(not any(b"append-" in open(os.path.join(tmp, f), "rb").read()
                  for f in os.listdir(tmp)), "nor left in the maildir's tmp/")

    # POP3.
    p = ctx.pop3()
    p.user(USER)
    p.pass_(PASSWORD)
    _, lines, _ = p.retr(1)
    check(b"\r\n".join(lines) + b"\r\n" == seeds[0], "POP3 RETR 1 (clean) byte-identical")
    p.quit()
    raw = Raw(ctx.tcp(port=110))
    raw.line()
    got = []
    for cmd in (b"USER alice", b"PASS wonderland", b"RETR 2"):
        raw.send(cmd + b"\r\n")
        got.append(raw.line() if cmd != b"RETR 2" else None)
    err = raw.drain()
    raw.close()
    body = raw.got.split(b"+OK", 3)[-1]
    check(got[0].startswith(b"+OK") and got[1].startswith(b"+OK"), "POP3 login ok")
    check(not raw.got.endswith(b"\r\n.\r\n") and seeds[1] not in body.replace(b"\r\n..", b"\r\n."),
          "POP3 RETR 2 (EICAR) never completed: %d bytes, no terminating dot (%r)" %
          (len(body), err))

    # IMAP STARTTLS: bypassed.
    before = ctx.rule_packets()[0]
    m = ctx.imap()
    m.starttls(ssl_context=lab_tls())
    m.login(USER, PASSWORD)
    typ, n = m.select("INBOX")
    typ2, data = m.fetch("3", "(BODY.PEEK[])")
    m.logout()
    check(typ == "OK" and typ2 == "OK" and data[0][1] == seeds[2],
          "IMAP over STARTTLS: login, SELECT, FETCH 3 byte-identical")
    check(n[0] == b"5", "INBOX holds 4 seeds + 1 clean APPEND (EXISTS %r)" % n[0])
    after = ctx.rule_packets()[0]
    check(after - before >= 5, "connmark bypass rule accepted %d packets without queueing" %
          (after - before))

    ctx.signal(15)
    check(ctx.proc.wait(10) == 0, "sluice exited 0 on SIGTERM")
    blocked = [e for e in ctx.events("message") if e["verdict"]["action"] == "block"]
    names = sorted(set(r["id"].split(".")[2] for e in blocked for r in e["verdict"]["reasons"]
                       if r["kind"] == "virus"))
    check(len(blocked) == 6 and names == ["EICAR", "Marker"],
          "6 blocked message events: 3 FETCH, 2 APPEND, 1 RETR (got %d: %r)" %
          (len(blocked), names))


if __name__ == "__main__":
    sys.exit(main(run))
