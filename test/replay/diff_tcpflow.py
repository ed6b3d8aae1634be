#!/usr/bin/python3
"""Differential test: sluice's reassembled TCP streams against tcpflow's.

For every capture in the shared corpus that carries TCP, and every lab
capture of ours, `sluice replay --write-streams` must write, for each
direction of each connection, exactly the bytes tcpflow (Debian's 1.6.1)
writes.

tcpflow is a reference, not the truth: it takes link-layer trailer bytes
for TCP payload, verifies no checksum, checks no window, lets the last copy
of overlapping bytes win, keeps bytes beyond a FIN and does not reassemble
IP fragments.  Where a capture exercises one of these, the two disagree, and
the capture is listed in EXCEPTIONS with the side a real receiver agrees
with, the reason, and the named checks (CHECKS) that prove the reason
mechanically: each check undoes exactly one known behaviour (on tcpflow's
input, tcpflow's output, or sluice's options); with all of an exception's
checks applied the streams must be identical, and with any one of them left
out they must differ -- so an exception fails as soon as it is not needed
any more, or not specific.

usage: diff_tcpflow.py SLUICE [PCAP...]"""
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difflib_sluice as d  # noqa: E402
import pcap_lite  # noqa: E402

# ---- the named checks ------------------------------------------------------


def strip_trailers(pcap, out):
    """The capture with every frame cut at the end of its IP datagram."""
    cap, pkts = pcap_lite.packets(pcap)
    for p in pkts:
        if p.ip_end is not None and p.ip_end < len(p.frame.data):
            p.frame.data = p.frame.data[:p.ip_end]
    cap.write_pcap(out, cap.frames)
    return out


def readable_prefix(pcap, out):
    """The records before the first damaged one, as a clean file."""
    cap = pcap_lite.Capture(pcap)
    if not cap.damaged:
        raise CheckError("the capture is not damaged")
    cap.write_pcap(out)
    return out


def fin_offsets(pcap):
    """Stream offset of each direction's first FIN, from its SYN's ISN."""
    _, pkts = pcap_lite.packets(pcap)
    isn, fin = {}, {}
    for p in pkts:
        if not p.is_tcp:
            continue
        k = (p.src, p.sport, p.dst, p.dport)
        if p.flags & 0x02 and k not in isn:
            isn[k] = p.seq
        elif p.flags & 0x01 and k in isn and k not in fin:
            fin[k] = (p.seq + len(p.payload) - isn[k] - 1) % (1 << 32)
    return fin


def cut_at_fin(pcap, streams):
    """tcpflow's first file of each direction cut at that direction's FIN."""
    fins = fin_offsets(pcap)
    for key, files in streams.items():
        if key in fins and files and os.path.getsize(files[0]) > fins[key]:
            with open(files[0], "r+b") as f:
                f.truncate(fins[key])


class CheckError(Exception):
    pass


# name -> what it undoes; hooks: tf_input(pcap, out) -> pcap for tcpflow,
# tf_output(pcap, streams) edits tcpflow's files, sl_args for sluice.
CHECKS = {
    "trailer": {
        "undoes": "tcpflow takes link-layer trailer bytes (the Ethernet padding of "
                  "frames shorter than 60 bytes, or any bytes after the IP datagram) for "
                  "TCP payload, and opens a new connection file ('c1') for such bytes "
                  "after a FIN or RST; tcpflow runs on the capture with every frame cut "
                  "at the end of its IP datagram (IP total length)",
        "tf_input": strip_trailers,
    },
    "checksum-off": {
        "undoes": "tcpflow verifies no checksum; sluice replays with --checksum off",
        "sl_args": ["--checksum", "off"],
    },
    "damaged": {
        "undoes": "tcpflow stops with an error at a damaged record; tcpflow runs on the "
                  "records before it (sluice reads those too, reports the damage and "
                  "exits 1)",
        "tf_input": readable_prefix,
    },
    "fin": {
        "undoes": "tcpflow keeps bytes beyond the sender's FIN (sequence numbers the "
                  "stream never reaches); tcpflow's stream is cut at the FIN's offset",
        "tf_output": cut_at_fin,
    },
}

# Captures where sluice and tcpflow must differ.  right: the side a real
# receiver agrees with; why: for this capture; checks: names in CHECKS.
PADDING = ("frames shorter than the Ethernet minimum (bare ACK/FIN/RST segments) carry "
           "trailer padding that tcpflow writes into the stream; the IP total length "
           "bounds the TCP payload (RFC 791/9293), so no receiver sees those bytes")


def padded(what=""):
    return {"right": "sluice", "why": PADDING + what, "checks": ["trailer"]}


EXCEPTIONS = {
    "suricata-verify/bug-3616-smtp__input.pcap": padded(),
    "suricata-verify/bug-7126__input.pcap": padded(" (here the RST after the FINs)"),
    "suricata-verify/imap-detection__input.pcap": padded(),
    "suricata-verify/mime__mime-quoted-printable__input.pcap": padded(),
    "suricata-verify/pop3-02-bug-7709__input.pcap": padded(),
    "suricata-verify/pop3-03-bug-7709__input.pcap": padded(),
    "suricata-verify/pop3__input.pcap": padded(),
    "suricata-verify/smtp-bug-5981__input.pcap": padded(),
    "suricata-verify/smtp-file-data-01__input.pcap": padded(),
    "suricata-verify/smtp-long-DATA-line__input.pcap": padded(),
    "suricata-verify/smtp-raw-extraction__input.pcap": padded(),
    "suricata-verify/smtp-rfc2231__input.pcap": padded(),
    "zeek/http__connect-with-smtp.pcap": padded(),
    "zeek/smtp.pcap": padded(),
    "zeek/tls__imap-starttls.pcap": padded(),
    "zeek/tls__smtp-starttls.pcap": padded(),
    "ndpi/pop3_stls.pcap": padded(),
    "ndpi/smtp.pcap": padded(),
    "arkime/imap-tag.pcap": padded(),
    "arkime/imap.pcap": padded(),
    "arkime/pop3-tag.pcap": padded(),
    "arkime/smtp-data-250.pcap": padded(),
    "arkime/smtp-data-521.pcap": padded(),
    "arkime/smtp-decrypted.pcap": padded(),
    "arkime/smtp-originating.pcap": padded(),
    "arkime/smtp-subject-8859-b.pcap": padded(),
    "arkime/smtp-subject-gb2312-b.pcap": padded(),
    "arkime/smtp-subject-multi-nospace.pcap": padded(),
    "arkime/socks5-smtp-503.pcap": padded(),
    "suricata-verify/smtp-bug-5989__input.pcap": {
        "right": "sluice",
        "why": "hand-edited: the server's greeting segment was made 5002 bytes long "
               "(bad checksum) without moving the later sequence numbers; the client "
               "ACKed only its first 38 bytes, the server's later segments reuse that "
               "sequence space and its FIN comes at offset 285, so the 'AAAA' bytes "
               "beyond it are in no stream (tcpflow keeps them)",
        "checks": ["fin"],
    },
    "peafowl/imap.cap": {
        "right": "sluice",
        "why": "damaged file (a byte lost in the 9th record header); tcpflow fails on it. "
               "Of the 8 readable records, the 8th is corrupt (bad TCP checksum, never "
               "acknowledged: the capture ends): a receiver drops it, tcpflow writes it",
        "checks": ["damaged", "checksum-off"],
    },
}

# ---- running the tools ------------------------------------------------------


def tf_addr(s):
    if ":" in s:
        return s.lower()
    return ".".join(str(int(x)) for x in s.split("."))


TF_NAME = re.compile(r"^(.+)\.(\d{5})-(.+)\.(\d{5})(?:--\d+)?(?:c(\d+))?$")


def tcpflow_streams(pcap, out):
    """tcpflow's files per direction; None when tcpflow failed."""
    r = subprocess.run(["tcpflow", "-q", "-r", pcap, "-o", out],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        return None
    streams = {}
    for name in os.listdir(out):
        m = TF_NAME.match(name)
        if not m:
            continue
        key = (tf_addr(m.group(1)), int(m.group(2)), tf_addr(m.group(3)), int(m.group(4)))
        streams.setdefault(key, []).append((int(m.group(5) or 0), os.path.join(out, name)))
    return {k: [p for _, p in sorted(v)] for k, v in streams.items()}


def sluice_streams(sluice, pcap, out, extra=(), status=(0,)):
    rc, _, err = d.replay(sluice, [pcap], "--write-streams", out, *extra, check=False)
    if rc not in status:
        raise RuntimeError("sluice replay %s exited %d: %s" % (pcap, rc, err.strip()))
    streams = {}
    for name in os.listdir(out):
        fid, src, dst = name.split("-", 2)
        sa, sp = src.rsplit(".", 1)
        da, dp = dst.rsplit(".", 1)
        key = (sa.lower(), int(sp), da.lower(), int(dp))
        streams.setdefault(key, []).append((int(fid), os.path.join(out, name)))
    return {k: [p for _, p in sorted(v)] for k, v in streams.items()}


def compare(a, b):
    """Differences between two stream maps (b None: tcpflow failed)."""
    if b is None:
        return ["tcpflow failed on the capture"]
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


class Run:
    """One capture, compared under any subset of checks (results cached)."""

    def __init__(self, sluice, pcap, tmp):
        self.sluice, self.pcap, self.tmp = sluice, pcap, tmp
        # sluice reads a damaged file up to the damage and exits 1
        self.status = (0, 1) if pcap_lite.Capture(pcap).damaged else (0,)
        self.n = 0
        self.cache = {}
        self.sl = {}			# sluice's streams per option list

    def _dir(self):
        self.n += 1
        p = os.path.join(self.tmp, str(self.n))
        os.mkdir(p)
        return p

    def diffs(self, checks):
        checks = tuple(sorted(checks))
        if checks in self.cache:
            return self.cache[checks]
        tf_in, sl_args = self.pcap, []
        for c in checks:
            k = CHECKS[c]
            if "tf_input" in k:
                tf_in = k["tf_input"](tf_in, os.path.join(self._dir(), "in.pcap"))
            sl_args += k.get("sl_args", [])
        tf = tcpflow_streams(tf_in, self._dir())
        for c in checks:
            if tf is not None and "tf_output" in CHECKS[c]:
                CHECKS[c]["tf_output"](self.pcap, tf)
        if tuple(sl_args) not in self.sl:
            self.sl[tuple(sl_args)] = sluice_streams(self.sluice, self.pcap, self._dir(),
                                                     sl_args, self.status)
        self.cache[checks] = compare(self.sl[tuple(sl_args)], tf)
        return self.cache[checks]


def check_capture(run, exc):
    """None when the capture passes, else what is wrong."""
    if not exc:
        diffs = run.diffs(())
        return "; ".join(diffs[:4]) if diffs else None
    checks = exc["checks"]
    try:
        full = run.diffs(checks)
        if full:
            return "even with %s: %s" % ("+".join(checks), "; ".join(full[:4]))
        for c in checks:
            if not run.diffs([x for x in checks if x != c]):
                return ("agrees without check '%s' (%s): remove it from the exception" %
                        (c, exc["why"]))
    except CheckError as e:
        return "check failed: %s" % e
    return None


def rel_name(pcap):
    return os.path.relpath(pcap, d.CORPUS) if pcap.startswith(d.CORPUS) else os.path.relpath(pcap, d.REPO)


def corpus_tcp_pcaps():
    seen, out = set(), []
    for r in d.read_tsv("MANIFEST.tsv"):
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
    for name in sorted(set(EXCEPTIONS) - {os.path.relpath(p, d.CORPUS) for p in pcaps}):
        if len(sys.argv) == 2:
            rep.fail("%s: listed in EXCEPTIONS but not compared" % name)
    def one(pcap):
        tmp = tempfile.mkdtemp(prefix="sl-tf-")
        try:
            return check_capture(Run(sluice, pcap, tmp), EXCEPTIONS.get(rel_name(pcap)))
        finally:
            shutil.rmtree(tmp)

    # the tools run as subprocesses: threads keep both cores busy
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(one, pcaps))
    for pcap, err in zip(pcaps, results):
        rel = rel_name(pcap)
        exc = EXCEPTIONS.get(rel)
        if err:
            rep.fail("%s: %s" % (rel, err))
        else:
            if exc:
                print("ok (exception, %s is right; %s): %s" % (exc["right"], "+".join(exc["checks"]), rel))
            rep.ok()
    rep.finish()


if __name__ == "__main__":
    main()
