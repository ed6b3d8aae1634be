"""A small pcap/pcapng reader and writer with just enough decoding (link,
IPv4/IPv6, TCP) for the replay tests to reason about a capture packet by
packet: where each frame's IP datagram ends (what follows is link-layer
trailer), each TCP segment's sequence numbers, flags and payload.

Independent of sluice on purpose: the tests use it to check claims about
tcpflow's and sluice's output, so it must not share their code.  Reads what
it can and stops at the first damaged record (like libpcap), remembering how
many records it read."""
import struct

DLT_NULL, DLT_EN10MB, DLT_RAW, DLT_LOOP, DLT_LINUX_SLL, DLT_LINUX_SLL2 = 0, 1, 101, 108, 113, 276
LINK_RAW_ALIASES = (12, 14, DLT_RAW)
MAX_RECORD = 262144


class Frame:
    __slots__ = ("index", "linktype", "ts", "data", "origlen")

    def __init__(self, index, linktype, ts, data, origlen):
        self.index, self.linktype, self.ts, self.data, self.origlen = index, linktype, ts, data, origlen


class Capture:
    """All frames of a file.  `damaged` is None, or says why reading stopped."""

    def __init__(self, path):
        self.frames = []
        self.damaged = None
        with open(path, "rb") as f:
            buf = f.read()
        magic = buf[:4]
        if magic == b"\x0a\x0d\x0d\x0a":
            self._read_pcapng(buf)
        else:
            self._read_pcap(buf)

    def _add(self, linktype, ts, data, origlen):
        self.frames.append(Frame(len(self.frames) + 1, linktype, ts, data, origlen))

    def _read_pcap(self, buf):
        if len(buf) < 24:
            self.damaged = "short file header"
            return
        m = buf[:4]
        if m in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            e = "<"
        elif m in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            e = ">"
        else:
            self.damaged = "not a capture"
            return
        _, _, _, _, snap, lt = struct.unpack(e + "HHiIII", buf[4:24])
        lt &= 0x0FFFFFFF
        self.linktype = lt
        pos = 24
        lim = max(snap, MAX_RECORD) if snap else MAX_RECORD
        while pos < len(buf):
            if pos + 16 > len(buf):
                self.damaged = "truncated record header"
                return
            sec, frac, cap, orig = struct.unpack(e + "IIII", buf[pos:pos + 16])
            if cap > lim or pos + 16 + cap > len(buf):
                self.damaged = "bad record length %d" % cap
                return
            self._add(lt, (sec, frac), buf[pos + 16:pos + 16 + cap], orig)
            pos += 16 + cap

    def _read_pcapng(self, buf):
        pos, e, ifs = 0, "<", []
        self.linktype = None
        while pos + 12 <= len(buf):
            btype = struct.unpack(e + "I", buf[pos:pos + 4])[0]
            if btype == 0x0A0D0D0A:
                bom = buf[pos + 8:pos + 12]
                e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                ifs = []
            blen = struct.unpack(e + "I", buf[pos + 4:pos + 8])[0]
            if blen < 12 or blen % 4 or pos + blen > len(buf):
                self.damaged = "bad block length %d" % blen
                return
            body = buf[pos + 8:pos + blen - 4]
            if btype == 1:
                ifs.append(struct.unpack(e + "H", body[:2])[0])
                if self.linktype is None:
                    self.linktype = ifs[-1]
            elif btype == 6:
                iface, hi, lo, cap, orig = struct.unpack(e + "IIIII", body[:20])
                t = (hi << 32) | lo		# if_tsresol ignored: microseconds
                self._add(ifs[iface], (t // 1000000, t % 1000000), body[20:20 + cap], orig)
            elif btype == 3:
                orig = struct.unpack(e + "I", body[:4])[0]
                self._add(ifs[0], (0, 0), body[4:4 + min(orig, len(body) - 4)], orig)
            pos += blen

    def write_pcap(self, path, frames=None):
        """Writes frames (default: all) as a classic little-endian pcap."""
        frames = self.frames if frames is None else frames
        lts = {f.linktype for f in frames} or {self.linktype or DLT_EN10MB}
        if len(lts) != 1:
            raise ValueError("frames of several link types")
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, MAX_RECORD, lts.pop()))
            for fr in frames:
                sec, frac = fr.ts
                f.write(struct.pack("<IIII", sec, frac, len(fr.data), max(fr.origlen, len(fr.data))))
                f.write(fr.data)


class Packet:
    """Decoded view of a frame: `l3` is the offset of the IP header, `ip_end`
    the end of what the IP header's length covers (frame bytes past it are
    link-layer trailer), TCP fields when the frame is an unfragmented TCP
    segment (or the first fragment: `frag`)."""
    __slots__ = ("frame", "l3", "ip_end", "v", "src", "dst", "frag", "frag_off",
                 "proto", "sport", "dport", "seq", "ack", "flags", "payload", "tcp_hlen")

    def __init__(self, frame):
        self.frame = frame
        self.l3 = self.ip_end = None
        self.v = self.proto = self.sport = self.src = self.dst = None
        self.frag = False
        self.frag_off = 0
        self.payload = b""

    @property
    def is_tcp(self):
        return self.proto == 6 and self.sport is not None


def _link(frame):
    d, lt = frame.data, frame.linktype
    if lt == DLT_EN10MB:
        off, et = 14, (struct.unpack(">H", d[12:14])[0] if len(d) >= 14 else 0)
        while et in (0x8100, 0x88A8, 0x9100) and len(d) >= off + 4:
            et = struct.unpack(">H", d[off + 2:off + 4])[0]
            off += 4
        return off, et
    if lt in (DLT_NULL, DLT_LOOP):
        if len(d) < 4:
            return None, None
        fam = struct.unpack("<I" if lt == DLT_NULL and d[0] else ">I", d[:4])[0]
        return 4, (0x86DD if fam in (10, 24, 28, 30) else 0x0800 if fam == 2 else 0)
    if lt in LINK_RAW_ALIASES:
        return 0, (0x0800 if d and d[0] >> 4 == 4 else 0x86DD)
    if lt == DLT_LINUX_SLL:
        return 16, struct.unpack(">H", d[14:16])[0] if len(d) >= 16 else 0
    if lt == DLT_LINUX_SLL2:
        return 20, struct.unpack(">H", d[0:2])[0] if len(d) >= 20 else 0
    return None, None


def ip_str(b):
    if len(b) == 4:
        return ".".join(str(x) for x in b)
    import ipaddress
    return str(ipaddress.IPv6Address(b))


def decode(frame):
    p = Packet(frame)
    d = frame.data
    off, et = _link(frame)
    if off is None:
        return p
    if et == 0x0800 and len(d) >= off + 20 and d[off] >> 4 == 4:
        hl = (d[off] & 15) * 4
        tot = struct.unpack(">H", d[off + 2:off + 4])[0]
        if hl < 20 or tot < hl:
            return p
        p.v, p.l3, p.ip_end = 4, off, min(off + tot, len(d))
        fo = struct.unpack(">H", d[off + 6:off + 8])[0]
        p.frag_off = (fo & 0x1FFF) * 8
        p.frag = bool(fo & 0x2000) or p.frag_off > 0
        p.proto = d[off + 9]
        p.src, p.dst = ip_str(d[off + 12:off + 16]), ip_str(d[off + 16:off + 20])
        l4 = off + hl
    elif et == 0x86DD and len(d) >= off + 40:
        plen = struct.unpack(">H", d[off + 4:off + 6])[0]
        p.v, p.l3, p.ip_end = 6, off, min(off + 40 + plen, len(d))
        p.src, p.dst = ip_str(d[off + 8:off + 24]), ip_str(d[off + 24:off + 40])
        nh, l4 = d[off + 6], off + 40
        while nh in (0, 43, 44, 60) and l4 + 8 <= p.ip_end:
            if nh == 44:
                fo = struct.unpack(">H", d[l4 + 2:l4 + 4])[0]
                p.frag_off, p.frag = fo & 0xFFF8, True
                nh, l4 = d[l4], l4 + 8
            else:
                nh, l4 = d[l4], l4 + (d[l4 + 1] + 1) * 8
        p.proto = nh
    else:
        return p
    if p.proto == 6 and p.frag_off == 0 and l4 + 20 <= p.ip_end:
        p.sport, p.dport, p.seq, p.ack = struct.unpack(">HHII", d[l4:l4 + 12])
        p.tcp_hlen = (d[l4 + 12] >> 4) * 4
        p.flags = d[l4 + 13]
        if not p.frag:
            p.payload = d[l4 + p.tcp_hlen:p.ip_end]
    return p


def packets(path):
    cap = Capture(path)
    return cap, [decode(f) for f in cap.frames]
