#!/usr/bin/env python3
"""Engine throughput of this tree against a git revision, measured in the same run.

``python benchmarks/compare.py REV`` checks REV out in a temporary git worktree and runs
the exhaustive classic benchmarks (the ``throughput`` part of ``run.py``) with the code of
REV and with the code of this tree, alternately, ``--rounds`` times, each in a fresh
process.  It prints the events per second of each side and the ratio of the best figures,
and checks that both sides explored the same executions and events and found the same
violations (compared by kind, signature, schedule and message), since a speed-up must not
change an answer.

Throughput depends on the machine and drifts within a run; alternating the two sides and
taking each side's best figure is what makes the ratio meaningful.

Exit status: 0 when the counts and findings agree, 1 when they differ, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# One side's measurement, run in a fresh interpreter with SRC/src and SRC/benchmarks first on
# the path: prints {"eps": ..., "counts": [[executions, events, findings digest], ...]}.
_ONE = r'''
import hashlib, json, sys, time
src, strategy, races, repeat = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
sys.path[:0] = [src + "/src", src + "/benchmarks"]
import models
from pcilock.engine import Budget, make_explorer
events = 0
seconds = 0.0
counts = []
for prog, _known in models.classic(False):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = make_explorer(prog, strategy, stop_on_first=False, budget=Budget(seconds=300),
                          races=races).run()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    events += r.stats.events
    seconds += best
    found = repr([(f.kind, f.signature, f.schedule, f.message) for f in r.found]).replace(src, "")
    counts.append([r.stats.executions, r.stats.events, hashlib.sha256(found.encode()).hexdigest()[:12]])
print(json.dumps({"eps": events / seconds, "counts": counts}))
'''


def measure(src, strategy, races, repeat):
    out = subprocess.run([sys.executable, "-c", _ONE, str(src), strategy, "1" if races else "0", str(repeat)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rev", help="git revision to compare against (e.g. HEAD~3, a commit, a tag)")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the two sides (default 2)")
    ap.add_argument("--repeat", type=int, default=3, help="timings per benchmark, minimum taken (default 3)")
    ap.add_argument("--strategy", default="dpor", choices=("dpor", "source-dpor"))
    ap.add_argument("--no-races", action="store_true", help="measure without the data-race detector")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.repeat < 1:
        ap.error("--rounds and --repeat must be >= 1")
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", args.rev + "^{commit}"],
                         capture_output=True, text=True)
    if rev.returncode != 0:
        print(f"compare.py: error: {args.rev!r} is not a commit of {ROOT}", file=sys.stderr)
        return 2
    commit = rev.stdout.strip()
    races = not args.no_races
    with tempfile.TemporaryDirectory(prefix="pcilock-compare-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(base), commit],
                       check=True)
        try:
            sides = {"base": [], "this": []}
            t0 = time.perf_counter()
            for i in range(args.rounds):
                for name, src in (("base", base), ("this", ROOT)):
                    res = measure(src, args.strategy, races, args.repeat)
                    sides[name].append(res)
                    print(f"round {i + 1}  {name:<4}  {res['eps']:>10,.0f} events/s", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    best = {k: max(r["eps"] for r in v) for k, v in sides.items()}
    same = all(r["counts"] == sides["base"][0]["counts"] for v in sides.values() for r in v)
    what = f"{args.strategy}, race detector {'on' if races else 'off'}"
    print(f"base {args.rev} ({commit[:12]}): {best['base']:,.0f} events/s; this tree: {best['this']:,.0f} "
          f"({best['this'] / best['base'] - 1:+.1%}); {what}; {time.perf_counter() - t0:.0f} s")
    digest = hashlib.sha256(json.dumps(sides["this"][0]["counts"]).encode()).hexdigest()[:12]
    if same:
        print(f"executions, events and findings identical on both sides (digest {digest})")
        return 0
    print("executions, events or findings DIFFER between the two sides:")
    for name, v in sides.items():
        print(f"  {name}: {v[0]['counts']}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
