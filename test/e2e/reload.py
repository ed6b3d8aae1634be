#!/usr/bin/python3
"""End-to-end: SIGHUP reloads while mail flows lose nothing.

Box (routed by default): the documented ruleset with --queue-bypass and
`sluice inline --rules RULES` where RULES starts as a copy of
test/rules/keywords.rules (kw-bluebird blocks "Project Bluebird").  The
client sends 100 messages over SMTP, one after the other (a session is
reused until a refusal ends it): clean ones, Bluebird ones, and Kestrel
ones ("Project Kestrel", no rule yet).  Meanwhile a thread sends sluice
SIGHUP every ~60 ms.  Before message 50 the rule file gets a new block
rule kw-kestrel and one more SIGHUP, and the test waits for sluice to log
that reload.  Checks:

  - every clean message (and every Kestrel one before the new rule) was
    accepted with 250 and is stored exactly once, byte-identical;
  - every Bluebird message, and every Kestrel one after the new rule, got
    554 5.7.1 naming its rule, and none is stored;
  - no other client outcome (no 451, no exception, no timeout);
  - sluice wrote one message event per message sent (nothing passed
    uninspected), with the verdict the client saw;
  - sluice logged at least 8 reloads and no failed one.

usage: reload.py SLUICE_BINARY SOURCE_ROOT [routed|bridge]
"""
import os
import re
import shutil
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import keyword_message, main, message, quit_quietly, send, stored, wait_for  # noqa

N, SWITCH = 100, 50
KESTREL_RULE = ('\nblock  kw-kestrel  body,attachment,subject  keyword nocase "project kestrel" '
                'msg "second project name"\n')


def kind(i):
    return {2: "bluebird", 4: "kestrel"}.get(i % 5, "clean")


def run(lab, ctx, check):
    smtp = lab.start_smtp()
    rules = os.path.join(lab.workdir, "reload.rules")
    shutil.copy(os.path.join(ctx.root, "test", "rules", "keywords.rules"), rules)
    ctx.rules(queue_bypass=True)
    ctx.start(rules=[rules])

    stop = threading.Event()
    pause = threading.Event()
    idle = threading.Event()
    hups = [0]

    def hupper():
        while not stop.is_set():
            if pause.is_set():
                idle.set()
                time.sleep(0.01)
                continue
            idle.clear()
            ctx.signal(signal.SIGHUP)
            hups[0] += 1
            time.sleep(0.06)

    def reloads():
        return len(re.findall(r"notice: reloaded:", ctx.log_text()))

    def last_reload():
        lines = [ln for ln in ctx.log_text().splitlines() if "notice: reloaded:" in ln]
        return lines[-1] if lines else ""

    t = threading.Thread(target=hupper, daemon=True)
    t.start()
    outcomes, sent = [], []
    c = None
    try:
        for i in range(N):
            if i == SWITCH:
                pause.set()
                idle.wait(5)
                last = None
                while last != reloads():  # pending SIGHUPs coalesce: wait for quiet
                    last = reloads()
                    time.sleep(0.3)
                with open(rules + ".new", "w") as f:
                    f.write(open(rules).read() + KESTREL_RULE)
                os.rename(rules + ".new", rules)
                ctx.signal(signal.SIGHUP)
                hups[0] += 1
                ok = wait_for(lambda: "rules: 4 (2 block" in last_reload(), 10)
                check(ok, "reload with the new rule file logged (%r)" % last_reload())
                pause.clear()
            k = kind(i)
            tag = "r%03d-%s" % (i, k)
            m = {"clean": lambda: message(tag, body_lines=20 + 7 * i),
                 "bluebird": lambda: keyword_message(tag),
                 "kestrel": lambda: keyword_message(tag, b"Project Kestrel")}[k]()
            if c is None:
                c = ctx.smtp()
            r = send(c, m)
            outcomes.append(r)
            sent.append((i, k, m))
            if r[0] != 250:
                quit_quietly(c)
                c = None
    finally:
        stop.set()
        t.join()
        if c is not None:
            quit_quietly(c)

    got = stored(smtp["store"])
    bad = []
    n_pass = n_block = 0
    for (i, k, m), r in zip(sent, outcomes):
        blocked = k == "bluebird" or (k == "kestrel" and i >= SWITCH)
        rule = "kw-" + k
        if blocked:
            n_block += 1
            ok = r[0] == 554 and r[1].startswith("5.7.1") and rule in r[1] and m not in got
        else:
            n_pass += 1
            ok = r == (250, "") and got.count(m) == 1
        if not ok:
            bad.append((i, k, r, got.count(m)))
    check(not bad, "%d messages: %d delivered once byte-identical, %d refused naming their "
          "rule (wrong: %r)" % (len(sent), n_pass, n_block, bad[:5]))
    check(len(got) == n_pass, "store holds exactly the %d accepted messages (got %d)" %
          (n_pass, len(got)))
    check(sum(1 for i, k, _ in sent if k == "kestrel" and i < SWITCH) > 0 and
          sum(1 for i, k, _ in sent if k == "kestrel" and i >= SWITCH) > 0,
          "Kestrel messages both before (passed) and after (refused) the new rule")
    ctx.signal(signal.SIGTERM)
    check(ctx.proc.wait(10) == 0, "sluice exited 0 on SIGTERM")
    v = ctx.verdicts()
    check(len(v) == N and v.count("pass") == n_pass and v.count("block") == n_block,
          "one message event per message sent: %d (pass %d, block %d)" %
          (len(v), v.count("pass"), v.count("block")))
    log = ctx.log_text()
    check(reloads() >= 8 and "reload failed" not in log,
          "%d SIGHUPs sent, %d reloads logged, none failed" % (hups[0], reloads()))


if __name__ == "__main__":
    sys.exit(main(run, modes=("routed",)))
