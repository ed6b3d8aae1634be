"""Ground truth for test messages: what a message contains, computed with
Python's email package on the exact bytes (shared by tools/gen-captures and
tools/craft-evasions).  Format: test/pcaps/README.md.
"""

import base64
import binascii
import hashlib
import io
import re
import zipfile
from email import policy
from email.parser import BytesParser

# The EICAR test string is assembled at run time so that no file of ours
# carries it in plain form (scanners on developers' machines would flag it).
_E = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-", "ANTIVIRUS-TEST-FILE!$H+H*")


def eicar():
    return "".join(_E).encode()


# The ClamAV test marker of test/clamav/sluice-test.{ndb,hdb} (hdb: md5 of
# exactly these 33 bytes).
MARKER = b"SLUICE-TEST-MALWARE-MARKER-5f0c2a"
# test/rules/keywords.rules: kw-bluebird, keyword nocase "project bluebird".
KEYWORD_RE = re.compile(rb"project bluebird", re.I)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def uudecode_blocks(text):
    """(name, bytes) for each "begin NNN name" ... "end" block in TEXT."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(rb"^begin [0-7]{3,4} (.+)$", lines[i])
        if not m:
            i += 1
            continue
        data = bytearray()
        i += 1
        while i < len(lines) and lines[i] not in (b"end", b"`"):
            if lines[i]:
                with_pad = lines[i]
                try:
                    data += binascii.a2b_uu(with_pad)
                except binascii.Error:
                    pass
            i += 1
        out.append((m.group(1).decode("latin-1"), bytes(data)))
        i += 1
    return out


def zip_members(data):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [(n, z.read(n)) for n in z.namelist()]
    except (zipfile.BadZipFile, ValueError, EOFError):
        return []


def contains(blobs):
    """Which of eicar/marker/keyword occur in any of BLOBS (bytes)."""
    found = []
    e = eicar()
    if any(e in b for b in blobs):
        found.append("eicar")
    if any(MARKER in b for b in blobs):
        found.append("marker")
    if any(KEYWORD_RE.search(b) for b in blobs):
        found.append("keyword")
    return found


def analyze(raw):
    """Subject, attachments and contains[] of the message RAW (bytes)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    subject = msg.get("subject")
    blobs = [raw]
    if subject is not None:
        subject = str(subject)
        blobs.append(subject.encode("utf-8"))
    atts = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.is_multipart():
            if ctype == "message/rfc822":
                atts.append({"filename": part.get_filename(), "content_type": ctype,
                             "sha256": None, "size": None,
                             "note": "attached message: its own parts are listed after it"})
            continue
        data = part.get_payload(decode=True) or b""
        blobs.append(data)
        name = part.get_filename()
        members = zip_members(data) if data[:2] == b"PK" else []
        for _, m in members:
            blobs.append(m)
        if name or part.get_content_disposition() == "attachment":
            a = {"filename": name, "content_type": ctype, "sha256": sha256(data),
                 "size": len(data)}
            if members:
                a["zip_members"] = [{"name": n, "sha256": sha256(m), "size": len(m)}
                                    for n, m in members]
            atts.append(a)
        if part.get_content_maintype() == "text":
            for uname, udata in uudecode_blocks(data):
                blobs.append(udata)
                atts.append({"filename": uname, "content_type": None,
                             "sha256": sha256(udata), "size": len(udata),
                             "encoding": "uuencode", "note": "uuencoded block inside %s" % ctype})
    return {"subject": subject, "attachments": atts, "contains": contains(blobs)}


def verdict(found, inspectable=True):
    """expected_verdict and why for a message containing FOUND."""
    if not inspectable:
        return "pass", "content is inside TLS: not inspectable, so nothing can match"
    why = {"eicar": "EICAR test file (ClamAV Sluice.Test.EICAR / Eicar-Signature)",
           "marker": "ClamAV test marker (Sluice.Test.Marker, test/clamav)",
           "keyword": "confidential phrase 'Project Bluebird' (test/rules kw-bluebird: block)"}
    if found:
        return "block", "; ".join(why[f] for f in found)
    return "pass", "clean"


def b64(data):
    return base64.b64encode(data).decode()


def dot_stuff(raw):
    """RAW (CRLF lines, ending in CRLF) as SMTP DATA carries it, with the
    terminating '.' line."""
    out = raw.replace(b"\r\n.", b"\r\n..")
    return (b"." + out if out.startswith(b".") else out) + b".\r\n"
