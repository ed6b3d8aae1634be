#!/usr/bin/python3
"""Differential test: the messages sluice extracts against tshark's IMF
export, and their MIME parts against Python's email package.

The corpus lists, per capture, every message `tshark --export-objects imf`
exports (imf.tsv: size and sha256) and every part Python's email package
decodes from those messages (attachments.tsv).  For each capture:

  1. every tshark message must be one of sluice's messages, byte for byte
     (sluice's email.sha256 is the raw RFC 5322 message after transport
     unstuffing, which is what tshark exports);
  2. for each such message, the multiset of (sha256, size) of the parts
     Python decodes must equal sluice's parts (primary reading, bodies only).

tshark is a reference, not the truth (corpus README): it corrupts a capture
with retransmissions, exports nothing from BDAT, and exports messages on
ports it was told about.  Each known disagreement is an entry in EXCEPTIONS
with the reason and a mechanical check of that reason.

usage: diff_imf.py SLUICE"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difflib_sluice as d  # noqa: E402

# capture -> {"why": ..., "check": callable(events) -> error string or None}
EXCEPTIONS = {}


def sluice_messages(sluice, pcap):
    _, events, _ = d.replay(sluice, [pcap], "--checksum", "auto")
    return [e for e in events if e["event_type"] == "message"]


def main():
    sluice = sys.argv[1]
    d.need_corpus()
    imf = collections.defaultdict(list)
    for r in d.read_tsv("imf.tsv"):
        imf[r["pcap_local_path"]].append(r)
    parts = collections.defaultdict(list)
    for r in d.read_tsv("attachments.tsv"):
        if r["content_type"].startswith("multipart/"):
            continue
        parts[r["imf_file"]].append((r["sha256"], int(r["decoded_size"])))

    rep = d.Report("diff_imf")
    for pcap, rows in sorted(imf.items()):
        msgs = sluice_messages(sluice, os.path.join(d.CORPUS, pcap))
        by_sha = {m["email"]["sha256"]: m for m in msgs}
        exc = EXCEPTIONS.get(pcap)
        problems = []
        for r in rows:
            m = by_sha.get(r["sha256"])
            if not m:
                problems.append("tshark message %s (%s bytes, %r) not among sluice's %d messages"
                                % (r["sha256"][:12], r["size_bytes"], r["subject"][:30], len(msgs)))
                continue
            want = collections.Counter(parts.get(r["imf_file"], []))
            got = collections.Counter((p["sha256"], p["size"]) for p in m["parts"]
                                      if not p.get("reading") and not p.get("kind"))
            if want != got:
                problems.append("message %s: parts differ: python-only %s, sluice-only %s" % (
                    r["sha256"][:12],
                    [(s[:12], n) for s, n in (want - got).elements()],
                    [(s[:12], n) for s, n in (got - want).elements()]))
        if exc:
            err = exc["check"](msgs, rows, problems)
            if not problems:
                rep.fail("%s: listed as an exception (%s) but agrees now: remove it" % (pcap, exc["why"]))
            elif err:
                rep.fail("%s: exception check failed: %s (problems: %s)" % (pcap, err, problems[:3]))
            else:
                print("ok (exception): %s: %s" % (pcap, exc["why"]))
                rep.ok()
        elif problems:
            for p in problems[:5]:
                rep.fail("%s: %s" % (pcap, p))
        else:
            rep.ok()
    rep.finish()


if __name__ == "__main__":
    main()
