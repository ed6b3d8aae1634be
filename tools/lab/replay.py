"""Replays the client side of a crafted capture into a real Linux server.

Used by tools/craft-evasions to check each truth file's claim about what a
Linux receiver keeps: the client packets of the capture are injected at
layer 2 on the client's veth of a routed lab (so TTL-1 chaff dies at the
box like behind any router) to the storing SMTP server, which listens on the
capture's own server address.  The server's real initial sequence number
differs from the crafted one, so every injected ACK number is replaced by
what the real server has sent so far (seen by a sniffer), and the TCP
checksum is updated incrementally (RFC 1624): a checksum that was wrong
stays wrong by the same amount, and a non-first IP fragment needs no change.
The client kernel must not answer the server (it has no socket): INPUT from
port 25 is dropped in the client namespace; the sniffer sees the packets
before that.
"""

import socket
import struct
import threading
import time

ETH_P_ALL = 0x0003


def _csum_update(csum, old, new):
    """RFC 1624 incremental update of a 16-bit ones' complement sum when a
    32-bit field changes from OLD to NEW."""
    c = ~csum & 0xffff
    for o, n in ((old >> 16, new >> 16), (old & 0xffff, new & 0xffff)):
        c += (~o & 0xffff) + n
        c = (c & 0xffff) + (c >> 16)
        c = (c & 0xffff) + (c >> 16)
    return ~c & 0xffff


def _l4(frame):
    """(ip version, src, dst, offset of the TCP header or None, is first
    fragment/unfragmented) of an Ethernet frame."""
    et = struct.unpack("!H", frame[12:14])[0]
    if et == 0x0800:
        ihl = (frame[14] & 15) * 4
        proto = frame[23]
        frag = struct.unpack("!H", frame[20:22])[0] & 0x1fff
        src, dst = socket.inet_ntop(socket.AF_INET, frame[26:30]), \
            socket.inet_ntop(socket.AF_INET, frame[30:34])
        return 4, src, dst, (14 + ihl if proto == 6 and frag == 0 else None)
    if et == 0x86DD:
        src = socket.inet_ntop(socket.AF_INET6, frame[22:38])
        dst = socket.inet_ntop(socket.AF_INET6, frame[38:54])
        nh, off = frame[20], 54
        if nh == 44:  # fragment header
            fo = struct.unpack("!H", frame[off + 2:off + 4])[0] >> 3
            nh = frame[off]
            off += 8
            if fo != 0:
                return 6, src, dst, None
        return 6, src, dst, (off if nh == 6 else None)
    return None, None, None, None


class Sniffer(threading.Thread):
    """Tracks, per client port, the next sequence number the real server
    will send (its ISN+1 after the SYN-ACK, plus data and FIN)."""

    def __init__(self, sock, server_addrs):
        super().__init__(daemon=True)
        self.sock, self.server_addrs = sock, server_addrs
        self.nxt = {}
        self.stop = False

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                frame = self.sock.recv(70000)
            except socket.timeout:
                continue
            ver, src, dst, t = _l4(frame)
            if t is None or src not in self.server_addrs:
                continue
            sport, dport, seq = struct.unpack("!HHI", frame[t:t + 8])
            if sport != 25:
                continue
            flags = frame[t + 13]
            hl = (frame[t + 12] >> 4) * 4
            if ver == 4:
                end = 14 + struct.unpack("!H", frame[16:18])[0]
            else:
                end = 54 + struct.unpack("!H", frame[18:20])[0]
            n = end - t - hl + (1 if flags & 0x01 else 0) + (1 if flags & 0x02 else 0)
            nxt = (seq + n) % 2**32
            old = self.nxt.get(dport)
            if flags & 0x02 or old is None or ((nxt - old) % 2**32) < 2**31:
                self.nxt[dport] = nxt


def replay(lab, pcap, client_addrs, server_addrs, port_shift=0, gap=0.003):
    """Inject the client packets of PCAP into LAB's client veth towards the
    box.  PORT_SHIFT is added to the client port: captures that share a
    4-tuple would otherwise meet the previous replay's TIME_WAIT socket on
    the server.  Returns after the last packet plus a grace period."""
    from scapy.utils import RawPcapReader
    mac = {}
    for role, ifc in (("client", "eth0"), ("box", "toclient")):
        out = lab.run(role, ["cat", "/sys/class/net/%s/address" % ifc]).stdout.strip()
        mac[role] = bytes.fromhex(out.replace(":", ""))
    with lab.netns("client"):
        tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    tx.bind(("eth0", 0))
    rx.bind(("eth0", ETH_P_ALL))
    sn = Sniffer(rx, set(server_addrs))
    sn.start()
    try:
        for frame, _meta in RawPcapReader(pcap):
            ver, src, dst, t = _l4(frame)
            if src not in client_addrs:
                continue  # the crafted server side: the real server answers itself
            f = bytearray(mac["box"] + mac["client"] + frame[12:])
            if t is not None:
                sport, dport = struct.unpack("!HH", f[t:t + 4])
                if port_shift:
                    old = struct.unpack("!I", f[t:t + 4])[0]
                    sport = (sport + port_shift) & 0xffff
                    f[t:t + 2] = struct.pack("!H", sport)
                    ck = struct.unpack("!H", f[t + 16:t + 18])[0]
                    f[t + 16:t + 18] = struct.pack(
                        "!H", _csum_update(ck, old, struct.unpack("!I", f[t:t + 4])[0]))
                flags = f[t + 13]
                if flags & 0x02 and not flags & 0x10:
                    sn.nxt.pop(sport, None)  # a new connection on this port
                elif flags & 0x10:
                    want = _wait(sn, sport)
                    old = struct.unpack("!I", f[t + 8:t + 12])[0]
                    ck = struct.unpack("!H", f[t + 16:t + 18])[0]
                    f[t + 8:t + 12] = struct.pack("!I", want)
                    f[t + 16:t + 18] = struct.pack("!H", _csum_update(ck, old, want))
            tx.send(bytes(f))
            if t is not None and f[t + 13] & 0x02 and not f[t + 13] & 0x10:
                _wait(sn, struct.unpack("!H", f[t:t + 2])[0], timeout=2.0)
            time.sleep(gap)
        time.sleep(1.0)
    finally:
        sn.stop = True
        sn.join()
        tx.close()
        rx.close()


def _wait(sn, port, timeout=2.0):
    end = time.monotonic() + timeout
    while port not in sn.nxt:
        if time.monotonic() > end:
            return 0
        time.sleep(0.005)
    return sn.nxt[port]


def prepare(lab, client4, server4, client6, server6):
    """Give the routed LAB's client and server the capture's own addresses
    (host routes through the box)."""
    assert lab.mode == "routed"
    n = lab.net
    lab.run("client", ["ip", "addr", "add", client4 + "/32", "dev", "eth0"])
    lab.run("client", ["ip", "-6", "addr", "add", client6 + "/128", "dev", "eth0", "nodad"])
    lab.run("server", ["ip", "addr", "add", server4 + "/32", "dev", "eth0"])
    lab.run("server", ["ip", "-6", "addr", "add", server6 + "/128", "dev", "eth0", "nodad"])
    lab.run("client", ["ip", "route", "add", server4 + "/32", "via", "10.%d.1.254" % n])
    lab.run("server", ["ip", "route", "add", client4 + "/32", "via", "10.%d.2.254" % n])
    lab.run("client", ["ip", "-6", "route", "add", server6 + "/128", "via",
                       "fd00:5c:%d:1::fe" % n])
    lab.run("server", ["ip", "-6", "route", "add", client6 + "/128", "via",
                       "fd00:5c:%d:2::fe" % n])
    lab.box(["ip", "route", "add", client4 + "/32", "dev", "toclient"])
    lab.box(["ip", "route", "add", server4 + "/32", "dev", "toserver"])
    lab.box(["ip", "-6", "route", "add", client6 + "/128", "dev", "toclient"])
    lab.box(["ip", "-6", "route", "add", server6 + "/128", "dev", "toserver"])


def arm(lab, server4, server6):
    """Once the server listens: check the routes, then silence the client
    kernel towards port 25."""
    for dst in (server4, server6):
        lab.wait_port(dst, 25)
    for ipt in ("iptables-legacy", "ip6tables-legacy"):
        lab.run("client", [ipt, "-A", "INPUT", "-p", "tcp", "--sport", "25", "-j", "DROP"])
