"""What diff_imf.py needs to reason about a capture independently of sluice:
sluice's output of one replay (events, extracted messages and parts,
reassembled streams), the corpus references (tshark's IMF export, Python's
email package, the projects' own expectations), and small models of the
mail protocols and of MIME used to check the claims in diff_imf's
EXCEPTIONS.  Debian's python3; no code shared with sluice."""
import collections
import email
import email.policy
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile

import difflib_sluice as d
import pcap_lite


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def hashes(b):
    return {"md5": hashlib.md5(b).hexdigest(), "sha1": hashlib.sha1(b).hexdigest(),
            "sha256": sha256(b)}


# ---- sluice's side -----------------------------------------------------------

class Run:
    """One `sluice replay --extract --write-streams` of a capture."""

    def __init__(self, sluice, pcap, checksum):
        tmp = tempfile.mkdtemp(prefix="diff_imf.")
        try:
            ext, st = os.path.join(tmp, "x"), os.path.join(tmp, "s")
            # exit 1: a damaged file, read up to the damage (like tshark)
            rc, self.events, err = d.replay(sluice, [pcap], "--checksum", checksum,
                                            "--extract", ext, "--write-streams", st,
                                            check=False)
            if rc not in (0, 1):
                raise RuntimeError("sluice replay %s failed (%d): %s" % (pcap, rc, err))
            self.msgs = [e for e in self.events if e["event_type"] == "message"]
            self.files = {}
            for name in os.listdir(ext) if os.path.isdir(ext) else []:
                if name != "index.jsonl":
                    with open(os.path.join(ext, name), "rb") as f:
                        self.files[name.split(".")[0]] = f.read()
            self.streams = {}
            for name in os.listdir(st) if os.path.isdir(st) else []:
                with open(os.path.join(st, name), "rb") as f:
                    self.streams[name] = f.read()
        finally:
            shutil.rmtree(tmp)
        self.flows = {e["flow_id"]: e for e in self.events if e["event_type"] == "flow"}

    def body(self, m):
        """The message's bytes (extracted by sluice, named by its sha256)."""
        return self.files.get(m["email"]["sha256"])

    def anomalies(self):
        return {e["anomaly"]["name"] for e in self.events if e["event_type"] == "anomaly"}

    def stream(self, flow_id, to_server):
        """A flow's reassembled bytes in one direction (b"" when none)."""
        f = self.flows.get(flow_id)
        if not f:
            return b""
        c = "%s.%d" % (f["src_ip"], f["src_port"])
        for name, data in self.streams.items():
            fid, src = name.split("-")[0], name.split("-")[1]
            if int(fid) == flow_id and (src == c) == to_server:
                return data
        return b""

    def client_streams(self):
        return [(fid, self.stream(fid, True)) for fid in self.flows]


    def whole_body_preambles(self, m):
        """Part ids of preambles that are a multipart's whole body: its first
        delimiter never came (mime.boundary_not_found "multipart N"), and the
        preamble is that multipart's first child, N + 1 (ids in document
        order, protocols/mime.h); Python reads that text as the body."""
        out = set()
        for e in self.events:
            if e["event_type"] == "anomaly" and e.get("message_id") == m["message_id"] and \
                    e["anomaly"]["name"] == "mime.boundary_not_found":
                mm = re.search(r"multipart (\d+)", e["anomaly"].get("detail") or "")
                if mm:
                    out.add(int(mm.group(1)) + 1)
        return out


def primary_parts(run, m):
    """sluice's body parts in its primary reading, as a multiset of (sha256, size)."""
    pre = run.whole_body_preambles(m)
    return collections.Counter((p["sha256"], p["size"]) for p in m["parts"]
                               if not p.get("reading") and
                               (not p.get("kind") or (p["kind"] == "preamble" and p["part"] in pre)))


# ---- Python's email package --------------------------------------------------

def python_parts(raw):
    """The leaf parts Python's email package decodes from a message, as the
    corpus's attachments.tsv lists them: containers (multipart/*, an
    embedded message/rfc822) are not parts; a leaf is its decoded payload."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = collections.Counter()
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        out[(sha256(payload), len(payload))] += 1
    return out, msg


# ---- models used by the exception checks ------------------------------------

def dot_stuff(msg):
    """The DATA (or POP3 multi-line) transfer form of a message, without the terminator."""
    return re.sub(rb"(^|\r\n)\.", rb"\1..", msg)


def lines(b):
    """CRLF/LF-terminated lines with their ends, and the offset each starts at."""
    out, at = [], 0
    for ln in b.splitlines(keepends=True):
        out.append((at, ln))
        at += len(ln)
    return out


SMTP_VERBS = {b"HELO", b"EHLO", b"LHLO", b"MAIL", b"RCPT", b"DATA", b"RSET", b"NOOP",
              b"QUIT", b"VRFY", b"EXPN", b"HELP", b"AUTH", b"STARTTLS", b"BDAT"}


def is_smtp_command(line):
    return line.split(b" ")[0].strip().upper() in SMTP_VERBS


def smtp_replies(server):
    """Complete SMTP replies of a server stream: (code, text) per reply, the
    lines of a multi-line reply joined."""
    out, text = [], []
    for _, ln in lines(server):
        m = re.match(rb"(\d{3})([ -])(.*?)\r?\n?$", ln)
        if not m:
            continue
        text.append(m.group(3))
        if m.group(2) == b" ":
            out.append((int(m.group(1)), b"\n".join(text)))
            text = []
    return out


def smtp_rejected_bodies(client, server):
    """The SMTP dialogue read the way the server read it, replies paired with
    commands in order (RFC 5321, RFC 2920): after a DATA answered 354 the
    lines up to "." are the message; after a DATA answered otherwise they are
    commands, each answered on its own.  Returns, for every refused DATA,
    the lines the client sent after it up to its "." line (what a tool that
    ignores the refusal takes as the message) and the replies those lines got."""
    replies = smtp_replies(server)[1:]          # [0] is the greeting
    ri, in_data, out, cur = 0, False, [], None
    for _, ln in lines(client):
        if in_data:
            if ln.rstrip(b"\r\n") == b".":
                in_data, ri = False, ri + 1
            continue
        if cur is not None:
            if ln.rstrip(b"\r\n") == b".":
                out.append(cur)
                cur = None
            else:
                cur["body"] += ln
                cur["replies"].append(replies[ri][0] if ri < len(replies) else None)
            ri += 1
            continue
        code = replies[ri][0] if ri < len(replies) else None
        ri += 1
        if ln.strip().upper() == b"DATA":
            if code == 354:
                in_data = True
            else:
                cur = {"code": code, "body": b"", "replies": []}
    return out


def smtp_bdat_messages(client, server):
    """Messages sent with BDAT (RFC 3030), read from the client stream
    independently of sluice: after "BDAT n [LAST]" CRLF come n bytes of
    message; a transaction's chunks concatenate up to the LAST one; MAIL
    and RSET start afresh.  Replies are paired in order (one per command
    line, one per chunk).  Returns (message bytes, reply code to each chunk)."""
    replies = [c for c, _ in smtp_replies(server)[1:]]
    out, pos, ri, cur, codes = [], 0, 0, None, []
    while pos < len(client):
        eol = client.find(b"\n", pos)
        if eol < 0:
            break
        line = client[pos:eol + 1]
        pos = eol + 1
        code = replies[ri] if ri < len(replies) else None
        ri += 1
        words = line.split()
        verb = words[0].upper() if words else b""
        if verb in (b"MAIL", b"RSET"):
            cur, codes = None, []
        elif verb == b"BDAT" and len(words) >= 2 and words[1].isdigit():
            n = int(words[1])
            cur = (cur or b"") + client[pos:pos + n]
            codes.append(code)
            pos += n
            if len(words) > 2 and words[2].upper() == b"LAST":
                out.append((cur, codes))
                cur, codes = None, []
    return out


def rfc822_bodies(raw, depth=0):
    """The raw bytes of every message/rfc822 part's content, found by
    splitting multiparts at their delimiters (RFC 2046 5.1.1: the CRLF before
    a delimiter belongs to it), recursively."""
    if depth > 8:
        return []
    sep = raw.find(b"\r\n\r\n")
    head, body = (raw[:sep + 2], raw[sep + 4:]) if sep >= 0 else (raw, b"")
    msg = email.message_from_bytes(head, policy=email.policy.compat32)
    ctype = msg.get_content_type()
    out = []
    if ctype == "message/rfc822":
        out.append(body)
        out += rfc822_bodies(body, depth + 1)
    elif ctype.startswith("multipart/") and msg.get_boundary():
        delim = b"--" + msg.get_boundary().encode()
        chunks = re.split(rb"(?:^|\r\n)" + re.escape(delim) + rb"(?:--)?[ \t]*\r\n", body)
        for chunk in chunks[1:]:
            out += rfc822_bodies(chunk, depth + 1)
    return out


def seg_key(p):
    """A segment's direction of its flow (the 4-tuple, source first)."""
    return (p.src, p.sport, p.dst, p.dport)


class Pcap:
    """The capture as pcap_lite decodes it: TCP payloads per direction."""

    def __init__(self, path):
        _, self.pkts = pcap_lite.packets(path)
        self.tcp = [p for p in self.pkts if p.is_tcp]

    def payloads(self, sport=None, dport=None):
        return [p for p in self.tcp if p.payload and (sport is None or p.sport == sport)
                and (dport is None or p.dport == dport)]

    def retransmitted(self):
        """Segments whose sequence range was seen before (retransmissions)."""
        seen, out = collections.defaultdict(set), []
        for p in self.tcp:
            if not p.payload:
                continue
            k = seg_key(p)
            if p.seq in seen[k]:
                out.append(p)
            seen[k].add(p.seq)
        return out

    def bad_checksum(self):
        """Segments whose TCP checksum is wrong (IPv4/IPv6 pseudo-header)."""
        out = []
        for p in self.tcp:
            if p.frag:
                continue
            d = p.frame.data
            if p.v == 4:
                hl = (d[p.l3] & 15) * 4
                seg = d[p.l3 + hl:p.ip_end]
                pseudo = d[p.l3 + 12:p.l3 + 20] + struct.pack(">BBH", 0, 6, len(seg))
            else:
                seg = d[p.ip_end - len(p.payload) - p.tcp_hlen:p.ip_end]
                pseudo = d[p.l3 + 8:p.l3 + 40] + struct.pack(">IxxxB", len(seg), 6)
            b = pseudo + seg + (b"\0" if len(seg) % 2 else b"")
            s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
            while s >> 16:
                s = (s & 0xFFFF) + (s >> 16)
            if s != 0xFFFF:
                out.append(p)
        return out


# ---- the corpus's references -------------------------------------------------

def corpus_tables():
    imf = collections.defaultdict(list)
    for r in d.read_tsv("imf.tsv"):
        imf[r["pcap_local_path"]].append(r)
    parts = collections.defaultdict(collections.Counter)
    for r in d.read_tsv("attachments.tsv"):
        # leaves only: the table has no row for a container; a multipart/*
        # row is a leaf to Python (its boundary never came)
        parts[r["imf_file"]][(r["sha256"], int(r["decoded_size"]))] += 1
    expected = collections.defaultdict(list)
    for r in d.read_tsv("expected.tsv"):
        r["details"] = json.loads(r["details_json"]) if r["details_json"] else {}
        expected[r["pcap_local_path"]].append(r)
    manifest = {}
    for r in d.read_tsv("MANIFEST.tsv"):       # a file also found elsewhere: first row
        manifest.setdefault(r["local_path"], r)
    return imf, parts, expected, manifest


def _bare(addr):
    return (addr or "").strip().strip("<>").lower()


def first_line_subject(raw):
    """The Subject field's first physical line (what a tool that does not
    unfold keeps, as Arkime does)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    mm = re.search(rb"(?im)^subject:[ \t]*([^\r\n]*)", head)
    return [mm.group(1).decode("utf-8", "replace")] if mm else []


def confirm(run, m, refs):
    """Which of the projects' own expectations (expected.tsv rows of this
    capture) describe sluice's message m: a hash of the message or of one of
    its parts, Arkime's subject or sender, Suricata's envelope.  Returns a
    list of short descriptions (empty: none does)."""
    raw = run.body(m) or b""
    digests = {h for b in [raw] + [run.files.get(p["sha256"], b"") for p in m["parts"]]
               for h in hashes(b).values()}
    digests |= {p["sha256"] for p in m["parts"]}
    smtp = m.get("smtp") or {}
    env_from = _bare(smtp.get("mail_from"))
    rcpts = [_bare(x) for x in smtp.get("rcpt_to") or []]
    hdr_from = (m["email"].get("from") or "").lower()
    subj = m["email"].get("subject")
    subjects = {" ".join(x.split()) for x in [subj or ""] + first_line_subject(raw)} - {""}
    text = b"".join(run.files.get(p["sha256"], b"") for p in m["parts"])
    out = []
    for r in refs:
        why = "%s %s (%s)" % (r["suite"], r["test_name"], r["kind"])
        det = r["details"]
        if r["hash"] and r["hash"].lower() in digests:
            out.append(why + ": " + r["hash_algo"] + " " + r["hash"][:12])
            continue
        em = det.get("email") or {}
        if r["suite"] == "arkime" and em:
            if subjects & {" ".join(x.split()) for x in em.get("subject") or []}:
                out.append(why + ": subject")
            elif env_from and env_from in [_bare(x) for x in em.get("src") or []] and \
                    (not em.get("dst") or set(_bare(x) for x in em["dst"]) & set(rcpts)):
                out.append(why + ": sender and recipient")
            continue
        match = det.get("match") or {}
        urls = [v for k, v in match.items() if k.startswith("email.url[")]
        if r["kind"] == "filter:smtp" and r["count"] != "0" and urls and \
                all(u.encode() in text for u in urls):
            out.append(why + ": URL " + urls[0])
            continue
        if r["kind"] == "filter:smtp" and r["count"] != "0" and "smtp.mail_from" in match:
            ok = _bare(match["smtp.mail_from"]) == env_from
            if "smtp.rcpt_to[0]" in match:
                ok = ok and rcpts[:1] == [_bare(match["smtp.rcpt_to[0]"])]
            if "email.from" in match:
                ok = ok and _bare(match["email.from"]) in hdr_from
            if ok:
                out.append(why + ": envelope " + env_from)
    return out
