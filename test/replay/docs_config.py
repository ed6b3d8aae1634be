#!/usr/bin/python3
"""Keeps the reference documentation true to the binary:

  - every configuration key `sluice config` prints (the key table of
    engine/config.c) is documented in docs/config.md as `group.key`;
  - docs/sluice.conf.example loads with `sluice config -c` and sets every
    one of those keys;
  - every anomaly `sluice anomalies` lists has a row in docs/events.md
    naming its layer and default action;
  - every counter of engine/core/counters_*.def is in docs/events.md;
  - every event type the engine writes (sl_eve_begin(..., "TYPE", ...) in
    engine/*.c) has its section in docs/events.md.

usage: docs_config.py SLUICE SOURCE_ROOT"""
import glob
import os
import re
import subprocess
import sys


def config_keys(text):
    """Full key names ("limits.max_flows") of a file written one setting per
    line, as `sluice config` prints it: "group: {", "  key = value;",
    "  key = {" (a key whose value is a group: policy.anomalies; its entries
    are not keys of the table), "};".  # and // comment lines are skipped."""
    keys, stack = [], []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("//"):
            continue
        m = re.match(r"^(\w+)\s*[:=]\s*\{(.*)$", s)
        if m:
            if len(stack) == 1:
                keys.append(stack[0] + "." + m.group(1))
            stack.append(m.group(1))
            if m.group(2).strip().startswith("}"):
                stack.pop()
            continue
        if s.startswith("}"):
            stack.pop()
            continue
        m = re.match(r"^(\w+)\s*=", s)
        if m and len(stack) <= 1:
            keys.append(".".join(stack + [m.group(1)]))
    return keys


def main():
    sluice, root = sys.argv[1], sys.argv[2]
    docs = os.path.join(root, "docs")
    failures = []

    def fail(what):
        failures.append(what)
        print("FAIL: " + what)

    out = subprocess.run([sluice, "config"], capture_output=True, text=True, check=True).stdout
    keys = config_keys(out)
    if len(keys) < 50:
        fail("`sluice config` printed only %d keys: parser out of date?" % len(keys))
    config_md = open(os.path.join(docs, "config.md")).read()
    for k in keys:
        if "`%s`" % k not in config_md:
            fail("docs/config.md does not document `%s`" % k)

    example = os.path.join(docs, "sluice.conf.example")
    r = subprocess.run([sluice, "config", "-c", example], capture_output=True, text=True)
    if r.returncode != 0:
        fail("docs/sluice.conf.example does not load: %s" % r.stderr.strip())
    set_keys = set(config_keys(open(example).read()))
    for k in keys:
        if k not in set_keys:
            fail("docs/sluice.conf.example does not set %s" % k)

    events_md = open(os.path.join(docs, "events.md")).read()
    out = subprocess.run([sluice, "anomalies"], capture_output=True, text=True, check=True).stdout
    n = 0
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        name, layer, action = line.split()[:3]
        n += 1
        row = re.search(r"^\| `%s` \| (\w+) \| (\w+) \|" % re.escape(name), events_md, re.M)
        if not row:
            fail("docs/events.md has no row for anomaly %s" % name)
        elif row.groups() != (layer, action):
            fail("docs/events.md: %s is %s/%s, the binary says %s/%s" %
                 ((name,) + row.groups() + (layer, action)))
    if n < 50:
        fail("`sluice anomalies` listed only %d anomalies" % n)

    for f in sorted(glob.glob(os.path.join(root, "engine", "core", "counters_*.def"))):
        for name in re.findall(r'SL_COUNTER\(\s*\w+,\s*"([^"]+)"', open(f).read()):
            if "`%s`" % name not in events_md:
                fail("docs/events.md does not list counter %s (%s)" % (name, os.path.basename(f)))

    types = set()
    for f in glob.glob(os.path.join(root, "engine", "*.c")):
        types |= set(re.findall(r'sl_eve_begin\([^,]+,\s*"(\w+)"', open(f).read()))
    if not types:
        fail("no sl_eve_begin call found in engine/*.c")
    for t in sorted(types):
        if not re.search(r"^#+ .*`%s`" % t, events_md, re.M):
            fail("docs/events.md has no section for event type %s" % t)

    print("docs-config: %d keys, %d anomalies, %d event types: %s" %
          (len(keys), n, len(types), "ok" if not failures else "%d failure(s)" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
