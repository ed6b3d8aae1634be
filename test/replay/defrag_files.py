#!/usr/bin/python3
"""Fragments do not cross capture files: `sluice replay A B` flushes the
defragmenter at the end of A (as it ends A's flows), so the last fragment
of a datagram, alone in B, completes nothing.

Files are cut from evasion/ipv4-frag-inorder.pcap: A = every frame but the
datagram's last fragment, B = that fragment alone.  A fragment held across
files would rebuild the datagram in B (defrag.reassembled 1, and a flow for
the TCP segment it carries).

usage: defrag_files.py SLUICE"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcap_lite  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAP = os.path.join(REPO, "test", "pcaps", "evasion", "ipv4-frag-inorder.pcap")


def counters(stderr):
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^\s+([a-z0-9_]+\.[a-z0-9_.]+)\s+(\d+)$", stderr, re.M)}


def main():
    sluice = sys.argv[1]
    cap, pkts = pcap_lite.packets(CAP)
    frags = [p for p in pkts if p.frag]
    if len(frags) < 2:
        print("FAIL: %s holds no fragmented datagram" % CAP)
        return 1
    last = max(frags, key=lambda p: p.frag_off)
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a.pcap"), os.path.join(tmp, "b.pcap")
        cap.write_pcap(a, [f for f in cap.frames if f is not last.frame])
        cap.write_pcap(b, [last.frame])
        failures = []
        for files, want_done in (([CAP], 1), ([a, b], 0)):
            out = subprocess.run([sluice, "replay", "--no-clamav"] + files,
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print("FAIL: sluice replay exited %d: %s" % (out.returncode, out.stderr))
                return 1
            c = counters(out.stderr)
            done = c.get("defrag.reassembled", 0)
            if done != want_done:
                failures.append("%s: defrag.reassembled %d, expected %d" %
                                (" ".join(os.path.basename(f) for f in files), done, want_done))
            if files[0] != CAP:
                if c.get("defrag.flushed", 0) != 2:
                    failures.append("defrag.flushed %s, expected 2 (one datagram per file)" %
                                    c.get("defrag.flushed"))
                flows = [json.loads(l) for l in out.stdout.splitlines()
                         if l.strip() and json.loads(l).get("event_type") == "flow"]
                if len(flows) != 1:
                    failures.append("%d flow events, expected 1 (B's lone fragment makes none)"
                                    % len(flows))
        for f in failures:
            print("FAIL:", f)
        if not failures:
            print("ok: the last fragment alone in the next file completes nothing")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
