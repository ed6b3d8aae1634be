#!/usr/bin/python3
"""Differential test: sluice's reassembled TCP streams against tcpflow's.

For every capture in the shared corpus that carries TCP (and every lab
capture of ours), `sluice replay --write-streams` must write, for each
direction of each connection, exactly the bytes tcpflow writes.

tcpflow is a reference, not the truth: it does not verify checksums, lets
the last copy of overlapping bytes win and does not reassemble IP fragments.
Where a capture exercises exactly that, the two must disagree, and each such
case is listed in EXCEPTIONS with the reason and a check that proves the
reason: the capture is replayed again with the one behaviour that differs
switched off (e.g. --checksum off) and must then agree byte for byte, or
sluice's bytes must equal what a real Linux receiver kept (the evasion
captures' truth files record it).

usage: diff_tcpflow.py SLUICE [PCAP...]"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difflib_sluice as d  # noqa: E402

# Captures where sluice and tcpflow must differ, and why.  'off' names the
# sluice option that makes sluice behave like tcpflow for the check.
EXCEPTIONS = {}


def tf_addr(s):
    if ":" in s:
        return s.lower()
    return ".".join(str(int(x)) for x in s.split("."))


TF_NAME = re.compile(r"^(.+)\.(\d{5})-(.+)\.(\d{5})(?:--\d+)?(?:c(\d+))?$")


def tcpflow_streams(pcap, out):
    subprocess.run(["tcpflow", "-q", "-r", pcap, "-o", out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    streams = {}
    for name in os.listdir(out):
        m = TF_NAME.match(name)
        if not m:
            continue
        key = (tf_addr(m.group(1)), int(m.group(2)), tf_addr(m.group(3)), int(m.group(4)))
        streams.setdefault(key, []).append((int(m.group(5) or 0), os.path.join(out, name)))
    return {k: [p for _, p in sorted(v)] for k, v in streams.items()}


def sluice_streams(sluice, pcap, out, extra=()):
    d.replay(sluice, [pcap], "--write-streams", out, *extra)
    streams = {}
    for name in os.listdir(out):
        fid, src, dst = name.split("-", 2)
        sa, sp = src.rsplit(".", 1)
        da, dp = dst.rsplit(".", 1)
        key = (sa.lower(), int(sp), da.lower(), int(dp))
        streams.setdefault(key, []).append((int(fid), os.path.join(out, name)))
    return {k: [p for _, p in sorted(v)] for k, v in streams.items()}


def compare(a, b):
    """Returns a list of differences between two stream maps."""
    diffs = []
    for key in sorted(set(a) | set(b)):
        fa, fb = a.get(key, []), b.get(key, [])
        if len(fa) != len(fb):
            diffs.append("%s:%d->%s:%d: sluice has %d stream(s), tcpflow %d" %
                         (key[0], key[1], key[2], key[3], len(fa), len(fb)))
            continue
        for x, y in zip(fa, fb):
            bx, by = open(x, "rb").read(), open(y, "rb").read()
            if bx != by:
                at = next((i for i in range(min(len(bx), len(by))) if bx[i] != by[i]),
                          min(len(bx), len(by)))
                diffs.append("%s:%d->%s:%d: %d vs %d bytes, first difference at %d" %
                             (key[0], key[1], key[2], key[3], len(bx), len(by), at))
    return diffs


def corpus_tcp_pcaps():
    rows = d.read_tsv("MANIFEST.tsv")
    seen = set()
    out = []
    for r in rows:
        p = r["local_path"]
        if ":tcp" in r["protocols_io_phs"] and p not in seen:
            seen.add(p)
            out.append(os.path.join(d.CORPUS, p))
    return out


def main():
    sluice = sys.argv[1]
    d.need("tcpflow")
    if len(sys.argv) > 2:
        pcaps = sys.argv[2:]
    else:
        d.need_corpus()
        pcaps = corpus_tcp_pcaps() + sorted(glob.glob(os.path.join(d.REPO, "test/pcaps/lab/*.pcap*")))
    rep = d.Report("diff_tcpflow")
    for pcap in pcaps:
        rel = os.path.relpath(pcap, d.CORPUS) if pcap.startswith(d.CORPUS) else os.path.relpath(pcap, d.REPO)
        tmp = tempfile.mkdtemp(prefix="sl-tf-")
        try:
            os.mkdir(os.path.join(tmp, "tf"))
            os.mkdir(os.path.join(tmp, "sl"))
            tf = tcpflow_streams(pcap, os.path.join(tmp, "tf"))
            sl = sluice_streams(sluice, pcap, os.path.join(tmp, "sl"))
            diffs = compare(sl, tf)
            exc = EXCEPTIONS.get(rel)
            if not diffs and not exc:
                rep.ok()
            elif diffs and not exc:
                rep.fail("%s: %s" % (rel, "; ".join(diffs[:4])))
            elif not diffs and exc:
                rep.fail("%s: listed as an exception (%s) but now agrees: remove it" % (rel, exc["why"]))
            else:
                os.mkdir(os.path.join(tmp, "sl2"))
                sl2 = sluice_streams(sluice, pcap, os.path.join(tmp, "sl2"), exc["off"])
                d2 = compare(sl2, tf)
                if d2:
                    rep.fail("%s: even with %s: %s" % (rel, " ".join(exc["off"]), "; ".join(d2[:4])))
                else:
                    print("ok (exception): %s: %s" % (rel, exc["why"]))
                    rep.ok()
        finally:
            shutil.rmtree(tmp)
    rep.finish()


if __name__ == "__main__":
    main()
