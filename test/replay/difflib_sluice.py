"""Shared helpers for the replay-level differential tests (Debian's python3).

Each test replays captures with the sluice binary and compares what it
produced with what an independent tool (tcpflow, tshark, Python's email
package) produces from the same capture."""
import json
import os
import subprocess
import sys

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# The corpus: $SLUICE_CORPUS, else the copy vendored in test/pcaps/corpus
# (captures and the reference tables, so CI runs these tests from a clean
# clone), else the shared folder beside the repository.
def _corpus():
    if os.environ.get("SLUICE_CORPUS"):
        return os.environ["SLUICE_CORPUS"]
    vendored = os.path.join(REPO, "test", "pcaps", "corpus")
    if os.path.exists(os.path.join(vendored, "MANIFEST.tsv")):
        return vendored
    return os.path.join(os.path.dirname(REPO), "shared", "corpus")


CORPUS = _corpus()


def need(tool):
    if subprocess.call(["sh", "-c", "command -v " + tool], stdout=subprocess.DEVNULL) != 0:
        print("SKIP: %s is not installed (tools/deps test installs it)" % tool)
        sys.exit(SKIP)


def need_corpus():
    if not os.path.isdir(CORPUS):
        print("SKIP: corpus not found at %s (set SLUICE_CORPUS)" % CORPUS)
        sys.exit(SKIP)


def read_tsv(name):
    with open(os.path.join(CORPUS, name), newline="") as f:
        lines = f.read().split("\n")
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:] if l]


def replay(sluice, pcaps, *args, check=True):
    """Runs sluice replay; returns (exit status, events, stderr)."""
    cmd = [sluice, "replay", "-q", "--no-clamav", "--eve", "-"] + list(args) + list(pcaps)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    events = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.decode()))
    return p.returncode, events, p.stderr.decode()


class Report:
    def __init__(self, name):
        self.name = name
        self.failures = []
        self.checked = 0

    def ok(self):
        self.checked += 1

    def fail(self, what):
        self.failures.append(what)
        print("FAIL: " + what)

    def finish(self):
        print("%s: %d checks, %d failures" % (self.name, self.checked, len(self.failures)))
        sys.exit(1 if self.failures else 0)
