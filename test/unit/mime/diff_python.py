#!/usr/bin/python3
"""Differential test of sluice's MIME decoder against Python's email package.

For every .eml file, both sides list the leaf parts of the message in
document order with the decoded size and sha256 of each:

  Python   email.message_from_bytes(policy=compat32), then for each
           part of msg.walk() that is not multipart: get_payload(decode=True)
           -- exactly how the corpus' attachments.tsv was made;
  sluice   mime_dump: reading 0 of every body part (and of a preamble that
           was the whole body because the first delimiter never came);
           preamble/epilogue text and uuencode blocks are extra views Python
           does not have, so they are not compared.

Parts must agree on count, size, sha256 and content type.  File names are
compared after decoding RFC 2047 on the Python side (clients decode it,
compat32 does not).  Where the two differ on malformed input, the case is
listed in EXCEPTIONS with the reason and which side real clients take; a
listed exception that stops happening is an error too, so the list stays
true.

Usage:
  diff_python.py --mime-dump PATH --eml-dir DIR
  diff_python.py --mime-dump PATH --corpus DIR   (exports .eml with tshark)
Exit: 0 all agree (or listed), 1 a difference, 77 no corpus/tshark.
"""
import argparse
import email
import email.policy
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from email.header import decode_header, make_header

# (eml path relative to the eml dir, 0-based leaf index) -> why it differs.
# Keep each entry specific; never widen to a pattern.
LIMIT = ('a sluice limit was hit (mime.gave_up): the rest of the entity is '
         'delivered raw so nothing goes uninspected; Python has no limit')
EXCEPTIONS = {
    # 1806 header fields > max_headers (1000): mime.too_many_headers.
    ('zeek_smtp__smtp-many-addresses.pcap/Test message.eml', 0): LIMIT,
    # a 400 KB folded Subject > max_header_bytes (64 KiB): mime.header_too_long.
    ('zeek_smtp__mime-header-size-limit.pcap/CVE-CANDIDATE' + '%0d%0a x' * 29 + '%0d%0a.eml', 0):
        LIMIT,
}


def python_parts(path):
    with open(path, 'rb') as f:
        # from bytes, not from a binary file: that one wraps the file in a
        # universal-newline TextIOWrapper and turns every CRLF into LF
        msg = email.message_from_bytes(f.read(), policy=email.policy.compat32)
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            payload = b''
        if isinstance(payload, str):
            payload = payload.encode('utf-8', 'surrogateescape')
        fn = part.get_filename()
        if fn is not None:
            try:
                fn = str(make_header(decode_header(fn)))
            except Exception:
                pass
        out.append({
            'ctype': part.get_content_type(),
            'size': len(payload),
            'sha256': hashlib.sha256(payload).hexdigest(),
            'filename': fn,
        })
    return out


def sluice_parts(dump, path):
    res = subprocess.run([dump, path], capture_output=True, check=True)
    out = []
    for line in res.stdout.decode('utf-8', 'surrogateescape').splitlines():
        f = line.split('\t')
        if f[0] != 'part' or f[2] != '0' or f[3] not in ('body', 'preamble-body'):
            continue
        out.append({
            'id': int(f[1]),
            'kind': f[3],
            'ctype': f[4],
            'filename': None if f[5] == '-' else f[5],
            'size': int(f[6]),
            'sha256': f[7],
        })
    out.sort(key=lambda p: p['id'])
    return out


def export_corpus(corpus, outdir):
    """tshark --export-objects imf for every capture the manifest says
    exports messages, with its decode-as option."""
    with open(os.path.join(corpus, 'MANIFEST.tsv')) as f:
        rows = [line.rstrip('\n').split('\t') for line in f][1:]
    for r in rows:
        if len(r) < 12 or not r[9].isdigit() or int(r[9]) == 0:
            continue
        dest = os.path.join(outdir, r[0].replace('/', '_'))
        os.makedirs(dest, exist_ok=True)
        cmd = ['tshark', '-r', os.path.join(corpus, r[0])]
        cmd += r[11].split() if r[11] else []
        cmd += ['-q', '--export-objects', 'imf,' + dest]
        subprocess.run(cmd, capture_output=True)


def compare(dump, emldir):
    files = sorted(os.path.join(d, n) for d, _, ns in os.walk(emldir) for n in ns)
    parts = agree = 0
    excepted, failures, stale = [], [], set(EXCEPTIONS)
    name_diff = []
    for path in files:
        rel = os.path.relpath(path, emldir)
        py, sl = python_parts(path), sluice_parts(dump, path)
        n = max(len(py), len(sl))
        for i in range(n):
            parts += 1
            a = py[i] if i < len(py) else None
            b = sl[i] if i < len(sl) else None
            why = None
            if a is None or b is None:
                why = 'part only on the %s side' % ('python' if b is None else 'sluice')
            elif (a['size'], a['sha256']) != (b['size'], b['sha256']):
                why = 'bytes: python %d, sluice %d' % (a['size'], b['size'])
            elif a['ctype'] != b['ctype'] and b['kind'] != 'preamble-body':
                # a preamble-body is typed text/plain, Python keeps the
                # multipart's type for the same bytes
                why = 'content type: python %s, sluice %s' % (a['ctype'], b['ctype'])
            if why is None:
                agree += 1
                if a['filename'] != b['filename']:
                    name_diff.append((rel, i, a['filename'], b['filename']))
                continue
            key = (rel, i)
            if key in EXCEPTIONS:
                stale.discard(key)
                excepted.append((rel, i, why, EXCEPTIONS[key]))
            else:
                failures.append((rel, i, why))
    print('messages %d, parts compared %d, agree %d, listed exceptions %d, failures %d'
          % (len(files), parts, agree, len(excepted), len(failures)))
    for rel, i, why, reason in excepted:
        print('EXCEPTION %s [%d]: %s -- %s' % (rel, i, why, reason))
    for rel, i, a, b in name_diff:
        print('FILENAME %s [%d]: python %r, sluice %r' % (rel, i, a, b))
    for rel, i, why in failures:
        print('FAIL %s [%d]: %s' % (rel, i, why))
    for rel, i in sorted(stale):
        print('STALE exception %s [%d] (no longer differs)' % (rel, i))
    print('%d passed, %d failed' % (agree + len(excepted), len(failures) + len(stale)))
    return 1 if failures or stale else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mime-dump', required=True)
    ap.add_argument('--eml-dir')
    ap.add_argument('--corpus')
    args = ap.parse_args()
    if args.eml_dir:
        return compare(args.mime_dump, args.eml_dir)
    corpus = args.corpus
    if not corpus or not os.path.isfile(os.path.join(corpus, 'MANIFEST.tsv')):
        print('corpus not found: skipped')
        return 77
    if not shutil.which('tshark'):
        print('tshark not found: skipped')
        return 77
    with tempfile.TemporaryDirectory(prefix='sluice-imf-') as tmp:
        export_corpus(corpus, tmp)
        return compare(args.mime_dump, tmp)


if __name__ == '__main__':
    sys.exit(main())
