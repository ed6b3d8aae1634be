#!/usr/bin/python3
"""`sluice check` on expectation files it wrote itself, and on broken ones.

  - --write-expectations records the command line's inspection options
    (--rules, --clamav-db, --no-clamav, --config, --checksum) in the new
    file's "args", paths relative to the file, merged with the args an
    existing file had; a later `sluice check` with no options (from another
    directory) then passes: a keyword capture still blocks for its rule;
  - an expectation key check does not know, at the top level or in a
    message, fails that capture with FILE: unknown key "x" and the valid
    keys, instead of checking nothing.

usage: check_cmd.py SLUICE"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "test", "pcaps", "lab")
RULES = os.path.join(REPO, "test", "rules", "keywords.rules")
CLAMAV = os.path.join(REPO, "test", "clamav")
CONFIG = os.path.join(REPO, "docs", "sluice.conf.example")


def run(sluice, args, cwd):
    return subprocess.run([sluice, "check"] + args, cwd=cwd, capture_output=True, text=True)


def args_of(path):
    with open(path) as f:
        return json.load(f).get("args")


def resolved(expect, args):
    """args with each path made absolute from the expectation's directory."""
    out, base = [], os.path.dirname(expect)
    for i, a in enumerate(args):
        if i and args[i - 1] in ("--rules", "--clamav-db", "--config"):
            a = os.path.realpath(os.path.join(base, a))
        out.append(a)
    return out


def main():
    sluice = os.path.abspath(sys.argv[1])
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        sub = os.path.join(tmp, "caps", "kw")
        os.makedirs(sub)
        pcap = os.path.join(sub, "kw.pcap")
        expect = os.path.join(sub, "kw.expect.json")
        shutil.copyfile(os.path.join(LAB, "smtp-keyword-body.pcap"), pcap)

        # 1. options recorded, relative to the file
        r = run(sluice, ["--write-expectations", "--rules", RULES, "--clamav-db", CLAMAV,
                         "--checksum", "on", "caps"], tmp)
        got = args_of(expect)
        want = ["--rules", os.path.realpath(RULES), "--clamav-db", os.path.realpath(CLAMAV),
                "--checksum", "on"]
        if r.returncode != 0 or not got or resolved(expect, got) != want:
            failures.append("write: args %r (exit %d %s), want %r resolved" %
                            (got, r.returncode, r.stderr.strip(), want))
        elif any(os.path.isabs(a) for a in got):
            failures.append("write: args not relative to the file: %r" % got)
        with open(expect) as f:
            ex = json.load(f)
        if [m.get("verdict") for m in ex.get("messages", [])] != ["block"]:
            failures.append("write: the keyword message is not blocked: %r" % ex.get("messages"))

        # 2. checked later, from elsewhere, with no option at all
        r = run(sluice, [pcap], "/")
        if r.returncode != 0:
            failures.append("check without options: exit %d: %s" % (r.returncode, r.stdout))

        # 3. a second write merges: the file's args stay, new options join
        r = run(sluice, ["--write-expectations", "--no-clamav", "--config", CONFIG, "kw.pcap"],
                sub)
        got = args_of(expect) or []
        want = ["--rules", os.path.realpath(RULES), "--no-clamav", "--config",
                os.path.realpath(CONFIG), "--checksum", "on"]
        if r.returncode != 0 or resolved(expect, got) != want:
            failures.append("merge: args %r, want %r resolved" % (got, want))

        # 4. without inspection options the file's args are kept as they are
        with open(expect) as f:
            before = json.load(f)["args"]
        r = run(sluice, ["--write-expectations", "-q", "kw.pcap"], sub)
        if args_of(expect) != before:
            failures.append("rewrite: args changed to %r" % args_of(expect))

        # 5. unknown keys
        for where, edit in (("", lambda e: e.update(messags=[])),
                            (" in message 1", lambda e: e["messages"][0].update(verdcit="pass"))):
            with open(expect) as f:
                e = json.load(f)
            edit(e)
            with open(expect, "w") as f:
                json.dump(e, f)
            r = run(sluice, [pcap], tmp)
            key = "messags" if not where else "verdcit"
            line = '%s: unknown key "%s"%s (valid: ' % (expect, key, where)
            if r.returncode != 1 or line not in r.stdout or "verdict" not in r.stdout and where:
                failures.append("unknown key %s: exit %d, output %r" % (key, r.returncode, r.stdout))
            if not where and "messages_exact" not in r.stdout:
                failures.append("unknown key: the valid keys are not listed: %r" % r.stdout)
            r = run(sluice, ["--write-expectations", pcap], tmp)
            if r.returncode != 0:
                failures.append("rewriting a file with an unknown key failed: %r" % r.stdout)
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("ok: args recorded relative to the file and merged; unknown keys refused")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
