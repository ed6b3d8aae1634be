#!/usr/bin/python3
"""Writes a large pcap of bulk TCP data for bench_decode / bench_pcap_floor.

Ethernet + IPv4 + TCP segments of 1448 payload bytes (1502-byte frames),
round-robin over FLOWS client hosts sending to one server port 25, with
correct IP and TCP checksums so that decoding does the full checksum work.

usage: gen_bulk_pcap.py OUT.pcap [MEGABYTES=500] [FLOWS=1000]
Do not commit the output."""
import os
import struct
import sys


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def words(b):
    return sum(struct.unpack('>%dH' % (len(b) // 2), b))


def main():
    out = sys.argv[1]
    mb = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    nflows = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    payload = os.urandom(1448)
    psum = words(payload)
    eth = b'\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa\x08\x00'
    flows = []
    for i in range(nflows):
        src = bytes([10, 1, (i >> 8) & 0xff, i & 0xff])
        dst = bytes([10, 2, 0, 25])
        flows.append([src, dst, 1024 + i, 25, 1000 * i])
    total = mb * 1000 * 1000
    written = 0
    n = 0
    with open(out, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
        while written < total:
            fl = flows[n % nflows]
            src, dst, sp, dp, seq = fl
            tl = 20 + len(payload)
            ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + tl, n & 0xffff, 0x4000, 64, 6,
                             0, src, dst)
            ip = ip[:10] + struct.pack('>H', (~fold(words(ip))) & 0xffff) + ip[12:]
            th = struct.pack('>HHIIBBHHH', sp, dp, seq & 0xffffffff, 1, 0x50, 0x18, 65535, 0, 0)
            s = words(th) + psum + words(src + dst) + 6 + tl
            th = th[:16] + struct.pack('>H', (~fold(s)) & 0xffff) + th[18:]
            frame = eth + ip + th + payload
            ts = 1700000000 * 1000000 + n * 10
            f.write(struct.pack('<IIII', ts // 1000000, ts % 1000000, len(frame), len(frame)))
            f.write(frame)
            fl[4] = seq + len(payload)
            written += 16 + len(frame)
            n += 1
    print('%s: %d packets, %d bytes' % (out, n, written + 24))


if __name__ == '__main__':
    main()
