#!/usr/bin/python3
"""Evasion captures: sluice's reassembled client->server stream against what
a real Linux receiver kept.

Every test/pcaps/evasion/X.pcap has X.truth.json, whose `messages` are the
messages a Linux server stored when the capture's client packets were
replayed into it (`linux_check`).  tcpflow and tshark are wrong by design on
these captures (their verdicts are recorded under `reference_tools`), so the
reference here is the receiver: from the stream files `sluice replay
--write-streams` writes for each connection, this test takes the SMTP
messages the client sent (DATA, dot-unstuffed, without the final ".";
BDAT chunks joined) with a parser of its own, and requires, capture by
capture:

  - the sha256 of each message, in order, equal to the truth's `messages`,
    and its envelope (HELO/EHLO name, MAIL FROM, RCPT TO) equal too;
  - none of them equal to a message the truth lists as `ignored` (bytes a
    receiver discards, e.g. after the FIN);
  - with `first_command`, the stream to start with that command.

A disagreement is a sluice bug, or a known limitation listed in EXCEPTIONS
with its reason and what sluice must do instead (checked too); an exception
that is not needed any more fails.

usage: evasion_streams.py SLUICE [PCAP...]"""
import glob
import hashlib
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difflib_sluice as d  # noqa: E402

EVASION = os.path.join(d.REPO, "test", "pcaps", "evasion")

# capture -> reason, and `instead`: what sluice's stream holds instead (the
# messages must contain `first`, the first copy of the conflicting bytes, and
# no hole) and the anomaly it must raise, so the difference stays visible.
FIRST_COPY = {"first": b"Project Kingfish", "anomaly": "stream.overlap_conflict"}
EXCEPTIONS = {
    "ttl-chaff.pcap": {
        "why": "inline-only limitation (truth `limitation`): the chaff copies carry IP TTL 1 "
               "and die at the first router, the real (hostile) copies reach the server. "
               "An inspector on the path cannot know its hop distance to the server, so "
               "it keeps the first copy, as a receiver on its own segment would, and "
               "flags the conflicting second copy (stream.overlap_conflict: block)",
        "instead": FIRST_COPY,
    },
    "overlap-conflict-ooo-cover.pcap": {
        "why": "policy, not emulation (tcp.h): of conflicting copies sluice keeps the first "
               "and blocks (stream.overlap_conflict).  Linux's choice depends on segment "
               "boundaries (a later out-of-order segment that covers queued ones replaces "
               "them; in-order data beats queued data), other stacks choose otherwise.  "
               "Inline sluice drops the covering segment, so the receiver keeps the first "
               "copy too: the difference is replay-only, and the verdict is block either way",
        "instead": FIRST_COPY,
    },
}


def address(arg):
    a = arg.split(b":", 1)[1].strip() if b":" in arg else arg
    return a.split(b">", 1)[0].lstrip(b"<").decode("latin-1")


def smtp_messages(stream):
    """The messages of an SMTP client stream: DATA bodies (dot-unstuffed,
    without the terminating line) and BDAT chunk runs, each as (bytes,
    envelope).  Returns (messages, first command line)."""
    msgs, pos, first = [], 0, None
    env = {"helo": None, "mail_from": None, "rcpt_to": []}
    while pos < len(stream):
        eol = stream.find(b"\r\n", pos)
        if eol < 0:
            break
        line = stream[pos:eol]
        pos = eol + 2
        if first is None:
            first = line.decode("latin-1")
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        if verb in (b"HELO", b"EHLO"):
            env = {"helo": arg.strip().decode("latin-1"), "mail_from": None, "rcpt_to": []}
        elif verb == b"MAIL":
            env = dict(env, mail_from=address(arg), rcpt_to=[])
        elif verb == b"RCPT":
            env["rcpt_to"] = env["rcpt_to"] + [address(arg)]
        elif verb == b"DATA":
            end = stream.find(b"\r\n.\r\n", pos - 2)
            if end < 0:
                break
            body = stream[pos:end + 2]
            lines = body.split(b"\r\n")
            msgs.append((b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines), env))
            pos = end + 5
        elif verb == b"BDAT":
            parts = line.split()
            chunk = b""
            while True:
                n = int(parts[1])
                chunk += stream[pos:pos + n]
                pos += n
                if len(parts) > 2 and parts[2].upper() == b"LAST":
                    break
                eol = stream.find(b"\r\n", pos)
                if eol < 0:
                    break
                parts = stream[pos:eol].split()
                pos = eol + 2
                if not parts or parts[0].upper() != b"BDAT":
                    break
            msgs.append((chunk, env))
    return msgs, first


def sluice_run(sluice, pcap, out):
    _, events, _ = d.replay(sluice, [pcap], "--write-streams", out)
    anomalies = set()
    for e in events:
        if e["event_type"] == "anomaly":
            anomalies.add(e["anomaly"]["name"] if isinstance(e.get("anomaly"), dict)
                          else e.get("anomaly"))
        for a in e.get("anomalies", []) or []:
            anomalies.add(a if isinstance(a, str) else a.get("name"))
    return anomalies


def client_streams(out, truth):
    """The to-server stream files, in flow order (the client is the side
    whose destination port is the server port: 25 here)."""
    port = truth.get("server_port") or 25
    files = []
    for name in sorted(os.listdir(out)):
        fid, src, dst = name.split("-", 2)
        if int(dst.rsplit(".", 1)[1]) == port:
            files.append(os.path.join(out, name))
    return files


def check(sluice, pcap):
    """List of disagreements with the truth (empty: agrees); also anomalies."""
    truth = json.load(open(pcap[:pcap.rindex(".")] + ".truth.json"))
    tmp = tempfile.mkdtemp(prefix="sl-ev-")
    try:
        anomalies = sluice_run(sluice, pcap, tmp)
        msgs, firsts = [], []
        for f in client_streams(tmp, truth):
            m, first = smtp_messages(open(f, "rb").read())
            msgs += m
            firsts.append(first)
    finally:
        shutil.rmtree(tmp)
    exc = EXCEPTIONS.get(os.path.basename(pcap))
    instead = None
    if exc:
        want = exc["instead"]
        if not msgs or not all(want["first"] in m and b"\0" not in m for m, _ in msgs):
            instead = "messages do not hold the first copy %r whole" % want["first"]
        elif want["anomaly"] not in anomalies:
            instead = "%s not raised" % want["anomaly"]
    got = [hashlib.sha256(m).hexdigest() for m, _ in msgs]
    kept = [m for m in truth["messages"] if m.get("direction") == "to_server"]
    want = [m["raw_sha256"] for m in kept]
    errs = []
    if got != want:
        errs.append("messages %s, Linux kept %s" % ([g[:12] for g in got], [w[:12] for w in want]))
    # a capture that starts mid-session (first_command) misses the HELO
    keys = ("mail_from", "rcpt_to") if truth.get("first_command") else ("helo", "mail_from", "rcpt_to")
    for (_, env), m in zip(msgs, kept):
        for k in keys:
            if k in m and env[k] != m[k]:
                errs.append("%s %r, Linux kept %r" % (k, env[k], m[k]))
    ign = truth.get("ignored")
    if ign and ign["raw_sha256"] in got:
        errs.append("holds the ignored message %s" % ign["raw_sha256"][:12])
    if truth.get("first_command") and not (firsts and firsts[0] and
                                           firsts[0].upper().startswith(truth["first_command"])):
        errs.append("stream starts with %r, not %s" % (firsts[:1], truth["first_command"]))
    return errs, instead


def main():
    sluice = sys.argv[1]
    pcaps = sys.argv[2:] or sorted(glob.glob(os.path.join(EVASION, "*.pcap")))
    if not pcaps:
        print("SKIP: no evasion captures")
        sys.exit(d.SKIP)
    rep = d.Report("evasion_streams")
    for pcap in pcaps:
        name = os.path.basename(pcap)
        errs, instead = check(sluice, pcap)
        exc = EXCEPTIONS.get(name)
        if not exc:
            if errs:
                rep.fail("%s: %s" % (name, "; ".join(errs)))
            else:
                rep.ok()
        elif not errs:
            rep.fail("%s: listed as an exception (%s) but agrees: remove it" % (name, exc["why"]))
        elif instead:
            rep.fail("%s: differs from Linux (%s), and %s" % (name, "; ".join(errs), instead))
        else:
            print("ok (exception: %s): %s" % (exc["why"], name))
            rep.ok()
    rep.finish()


if __name__ == "__main__":
    main()
