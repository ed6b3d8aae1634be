#!/usr/bin/python3
"""`sluice replay --quarantine DIR` (output.quarantine_dir): every blocked
message, and only those, lands in DIR as <sha256>.eml (the raw message,
whose sha256 is its name and the message event's email.sha256) and
<sha256>.json (its message event).

Captures: lab/smtp-eicar-base64 (blocked: EICAR, ClamAV) and
lab/smtp-keyword-body (blocked: rule kw-bluebird), with lab/smtp-plain-text
(clean) in the same run.

usage: quarantine.py SLUICE"""
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "test", "pcaps", "lab")


def main():
    sluice = sys.argv[1]
    caps = [os.path.join(LAB, c + ".pcap")
            for c in ("smtp-eicar-base64", "smtp-keyword-body", "smtp-plain-text")]
    with tempfile.TemporaryDirectory() as tmp:
        q = os.path.join(tmp, "q")
        out = subprocess.run([sluice, "replay", "-q", "--quarantine", q,
                              "--rules", os.path.join(REPO, "test", "rules", "keywords.rules"),
                              "--clamav-db", os.path.join(REPO, "test", "clamav")] + caps,
                             capture_output=True, text=True)
        if out.returncode != 0:
            print("FAIL: sluice replay exited %d: %s" % (out.returncode, out.stderr))
            return 1
        events = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
        msgs = [e for e in events if e["event_type"] == "message"]
        blocked = {m["email"]["sha256"] for m in msgs if m["verdict"]["action"] == "block"}
        clean = {m["email"]["sha256"] for m in msgs if m["verdict"]["action"] != "block"}
        failures = []
        if len(blocked) != 2 or not clean:
            failures.append("expected 2 blocked messages and a clean one, got %d and %d" %
                            (len(blocked), len(clean)))
        names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(q, "*")))
        want = sorted([h + ".eml" for h in blocked] + [h + ".json" for h in blocked])
        if names != want:
            failures.append("quarantine holds %s, expected %s" % (names, want))
        for h in blocked:
            eml = os.path.join(q, h + ".eml")
            js = os.path.join(q, h + ".json")
            if os.path.exists(eml):
                got = hashlib.sha256(open(eml, "rb").read()).hexdigest()
                if got != h:
                    failures.append("%s.eml: content sha256 is %s" % (h, got))
            if os.path.exists(js):
                ev = json.load(open(js))
                if ev.get("event_type") != "message" or ev["email"]["sha256"] != h or \
                        ev["verdict"]["action"] != "block":
                    failures.append("%s.json is not that message's event" % h)
    for f in failures:
        print("FAIL: " + f)
    print("quarantine: %s" % ("ok" if not failures else "%d failure(s)" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
