#!/usr/bin/python3
"""Turns the TCP streams of a capture into .conv files for test_mail_corpus.

    extract.py CAPTURE OUTPREFIX

Each TCP stream N becomes OUTPREFIX.N.conv: the line "SLCV1 <server port>",
then one record per tshark 'follow,tcp,raw' block in capture order: a byte
'C' (client -> server) or 'S', a 4-byte big-endian length, the bytes.
tshark reassembles in order and drops retransmissions; node 0 (the first
packet's source) is taken as the client unless only it has a mail port.
"""
import subprocess
import sys

MAIL_PORTS = {25, 110, 143, 465, 587, 993, 995, 2525}


def streams(cap):
    out = subprocess.run(['tshark', '-r', cap, '-T', 'fields', '-e', 'tcp.stream'],
                         capture_output=True, text=True).stdout
    return sorted({int(x) for x in out.split() if x.strip().isdigit()})


def follow(cap, n):
    out = subprocess.run(['tshark', '-r', cap, '-q', '-z', 'follow,tcp,raw,%d' % n],
                         capture_output=True, text=True).stdout
    port, port0, recs = None, None, []
    for line in out.split('\n'):
        if line.startswith('Node 0:'):
            port0 = int(line.rsplit(':', 1)[1])
        elif line.startswith('Node 1:'):
            port = int(line.rsplit(':', 1)[1])
        elif line.startswith('\t') and line.strip():
            recs.append((b'S', bytes.fromhex(line.strip())))
        elif line and all(c in '0123456789abcdef' for c in line):
            recs.append((b'C', bytes.fromhex(line)))
    # A capture of one side only may start with the server: a mail port
    # on node 0 (and not on node 1) makes node 0 the server.
    if port0 in MAIL_PORTS and port not in MAIL_PORTS:
        port = port0
        recs = [(b'S' if d == b'C' else b'C', data) for d, data in recs]
    return port, recs


def main():
    cap, prefix = sys.argv[1], sys.argv[2]
    for n in streams(cap):
        port, recs = follow(cap, n)
        if port is None or not recs:
            continue
        with open('%s.%d.conv' % (prefix, n), 'wb') as f:
            f.write(b'SLCV1 %d\n' % port)
            for d, data in recs:
                f.write(d + len(data).to_bytes(4, 'big') + data)


if __name__ == '__main__':
    main()
