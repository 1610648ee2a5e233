#!/usr/bin/env python3
"""Engine benchmarks: throughput, AB-BA scaling, DPOR redundancy.

Run ``python benchmarks/run.py`` for tables, ``--json`` for one JSON object,
``--quick`` for a smoke run (smaller programs, one repetition).

What is measured (every figure comes from this run, on this machine):

* **throughput**: events (engine steps, re-executed prefixes included) per
  second of exhaustive exploration of the classic benchmarks, with optimal
  DPOR (``dpor``, the headline ``events_per_second``) and source-DPOR;
* **abba**: the AB-BA pair plus N = 0..8 unrelated workers; the time of
  ``explore(..., stop_on_first=True)`` to the first deadlock (minimisation and
  the traced replay included), and of ``explore(..., stop_on_first=False)``
  run to coverage under a time budget;
* **redundancy**: explored executions divided by the number of distinct
  Mazurkiewicz traces, known in closed form (1.0 = no redundant execution);
* **baseline**: a naive enumerator (every interleaving, no reduction) on
  programs small enough for it, against optimal DPOR on the same programs.

Every timing is the minimum over ``--repeat`` runs (``time.perf_counter``);
the naive baseline runs once.  Counts (executions, events) are deterministic,
and the script checks that repetitions agree.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
try:
    import pcilock  # noqa: F401
except ImportError:  # a clean clone without `pip install .`
    sys.path.insert(0, str(HERE.parent / "src"))

import models  # noqa: E402
import naive_enum  # noqa: E402

from pcilock.engine import Budget, encode, explore, make_explorer  # noqa: E402

TARGET_EVENTS_PER_SECOND = 100_000
TARGET_FIRST_DEADLOCK_SECONDS = 0.050
TARGET_REDUNDANCY = 1.1

# Reference, not measured here: /work/shared/reference/anchors.md section 4.2 (SPIN 6.5.2,
# same AB-BA model with 6 workers whose private locks are globals, POR on).
SPIN_REFERENCE = "SPIN 6.5.2, N=6, full space with POR: 16,759,390 states, 25.7 s (anchors.md 4.2)"


class Timer:
    """Minimum wall time over repetitions, and a check that the counts agree."""

    def __init__(self, repeat):
        self.repeat = repeat
        self.deterministic = True

    def __call__(self, fn, key):
        best = None
        first_key = None
        result = None
        for _ in range(self.repeat):
            t0 = time.perf_counter()
            result = fn()
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
            k = key(result)
            if first_key is None:
                first_key = k
            elif k != first_key:
                self.deterministic = False
        return best, result


def _counts(r):
    s = r.stats
    return (r.verdict, s.executions, s.complete, s.sleep_blocked, s.events)


# -- throughput and redundancy -------------------------------------------------------

def _variants():
    """(strategy, race detector on?) pairs to measure; the default configuration first."""
    out = [("dpor", True), ("source-dpor", True)]
    if "races" in inspect.signature(make_explorer).parameters:
        out.append(("dpor", False))  # the cost of the data-race detector
    return out


def bench_classic(timer, quick, budget):
    rows = []
    for prog, known in models.classic(quick):
        for strategy, races in _variants():
            kw = {} if races else {"races": False}
            secs, r = timer(lambda prog=prog, strategy=strategy, kw=kw: make_explorer(
                prog, strategy, stop_on_first=False, budget=Budget(seconds=budget), **kw).run(), _counts)
            s = r.stats
            covered = s.stop_reason.value == "covered"
            rows.append({
                "benchmark": prog.name, "strategy": strategy, "race_detector": races,
                "executions": s.executions, "complete": s.complete, "sleep_blocked": s.sleep_blocked,
                "events": s.events, "seconds": secs,
                "events_per_second": s.events / secs if secs > 0 else None,
                "covered": covered, "known_traces": known, "engine_traces": s.traces,
                "complete_matches_known": covered and s.complete == known,
                "executions_per_trace": s.executions / known if covered else None,
            })
    return rows


def _rate(rows, strategy, races=True):
    sel = [r for r in rows if r["strategy"] == strategy and r["race_detector"] == races]
    if not sel:
        return None
    secs = sum(r["seconds"] for r in sel)
    return sum(r["events"] for r in sel) / secs if secs > 0 else 0.0


# -- AB-BA ---------------------------------------------------------------------------

def bench_abba(timer, max_workers, budget):
    rows = []
    for n in range(max_workers + 1):
        prog = models.abba(n)
        row = {"workers": n}
        for strategy in ("dpor", "source-dpor"):
            first_s, r1 = timer(lambda prog=prog, strategy=strategy: explore(
                prog, strategy, stop_on_first=True, budget=Budget(seconds=budget)), _counts)
            full_s, r2 = timer(lambda prog=prog, strategy=strategy: explore(
                prog, strategy, stop_on_first=False, budget=Budget(seconds=budget)), _counts)
            found = r1.found[0] if r1.found else None
            fig = {
                "first_deadlock_seconds": first_s if r1.verdict == "deadlock" else None,
                "first_executions": r1.stats.executions,
                "counterexample": encode(found.schedule) if found else None,
                "exhaustive_seconds": full_s if r2.exhaustive else None,
                "executions": r2.stats.executions,
                "exhaustive_verdict": r2.verdict,
            }
            if strategy == "dpor":
                row.update(fig)
            else:
                row["source_dpor"] = fig
        rows.append(row)
    return rows


# -- naive baseline ----------------------------------------------------------------

def baseline_programs(quick):
    progs = [
        (models.abba(0), 3), (models.abba(1), 3),
        (models.lastzero(3), models.lastzero_traces(3)),
        (models.readers_writers(2, 3), models.readers_writers_traces(2, 3)),
        (models.philosophers(3), models.philosophers_traces(3)),
    ]
    if not quick:
        progs += [(models.lastzero(4), models.lastzero_traces(4)),
                  (models.philosophers(4), models.philosophers_traces(4))]
    return progs


def bench_baseline(timer, quick):
    rows = []
    for prog, known in baseline_programs(quick):
        t0 = time.perf_counter()
        count, traces, _outcomes = naive_enum.enumerate_all(prog)
        naive_s = time.perf_counter() - t0
        dpor_s, r = timer(lambda prog=prog: make_explorer(prog, "dpor", stop_on_first=False).run(), _counts)
        rows.append({
            "benchmark": prog.name, "naive_executions": count, "naive_traces": len(traces),
            "known_traces": known, "naive_seconds": naive_s, "dpor_executions": r.stats.executions,
            "dpor_seconds": dpor_s, "reduction": count / r.stats.executions,
            "speedup": naive_s / dpor_s if dpor_s > 0 else None,
        })
    return rows


# -- report --------------------------------------------------------------------------

def run(args):
    t_start = time.perf_counter()
    timer = Timer(args.repeat)
    classic = bench_classic(timer, args.quick, args.budget)
    abba = bench_abba(timer, args.max_workers, args.budget)
    baseline = bench_baseline(timer, args.quick)
    eps = _rate(classic, "dpor")
    eps_src = _rate(classic, "source-dpor")
    eps_norace = _rate(classic, "dpor", races=False)
    default = [r for r in classic if r["race_detector"]]
    redundancy = {r["benchmark"]: r["executions_per_trace"] for r in default if r["strategy"] == "dpor"}
    redundancy_src = {r["benchmark"]: r["executions_per_trace"] for r in default
                      if r["strategy"] == "source-dpor"}
    firsts = [r["first_deadlock_seconds"] for r in abba]
    return {
        "events_per_second": eps,
        "abba": abba,
        "redundancy": redundancy,
        "events_per_second_source_dpor": eps_src,
        "events_per_second_dpor_without_race_detector": eps_norace,
        "redundancy_source_dpor": redundancy_src,
        "throughput": classic,
        "baseline_naive": baseline,
        "targets": {
            "events_per_second": TARGET_EVENTS_PER_SECOND,
            "first_deadlock_seconds": TARGET_FIRST_DEADLOCK_SECONDS,
            "redundancy": TARGET_REDUNDANCY,
        },
        "targets_met": {
            "events_per_second": eps >= TARGET_EVENTS_PER_SECOND,
            "first_deadlock_seconds": all(f is not None and f < TARGET_FIRST_DEADLOCK_SECONDS
                                          for f in firsts),
            "redundancy": all(v is not None and v <= TARGET_REDUNDANCY for v in redundancy.values()),
            "trace_counts": all(r["complete_matches_known"] for r in classic)
            and all(r["naive_traces"] == r["known_traces"] for r in baseline),
        },
        "deterministic_counts": timer.deterministic,
        "spin_reference": SPIN_REFERENCE,
        "settings": {"quick": args.quick, "repeat": args.repeat, "budget_seconds": args.budget,
                     "max_workers": args.max_workers},
        "environment": {"python": platform.python_version(),
                        "implementation": platform.python_implementation(),
                        "machine": platform.machine(), "system": platform.system()},
        "total_seconds": time.perf_counter() - t_start,
    }


def _ms(x):
    return "-" if x is None else f"{x * 1000:.2f}"


def _f(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def print_tables(res):
    from rich.console import Console
    from rich.table import Table

    # piped output (no terminal) gets a fixed width wide enough for the tables
    con = Console() if sys.stdout.isatty() else Console(width=132)
    s = res["settings"]
    con.print(f"[bold]pcilock engine benchmarks[/bold]  (Python {res['environment']['python']}, "
              f"repeat={s['repeat']}, min time of the repetitions, quick={s['quick']})")

    t = Table(title="Exhaustive exploration of classic benchmarks")
    for c in ("benchmark", "strategy", "races", "executions", "sleep-blocked", "known traces",
              "exec/trace", "events", "seconds", "events/s"):
        t.add_column(c, justify="left" if c in ("benchmark", "strategy", "races") else "right")
    for r in res["throughput"]:
        t.add_row(r["benchmark"], r["strategy"], "on" if r["race_detector"] else "off",
                  str(r["executions"]), str(r["sleep_blocked"]), str(r["known_traces"]),
                  _f(r["executions_per_trace"]), f"{r['events']:,}", f"{r['seconds']:.3f}",
                  _f(r["events_per_second"], "{:,.0f}"))
    con.print(t)

    t = Table(title="AB-BA + N unrelated workers (optimal DPOR; source-DPOR in brackets)")
    for c in ("N", "first deadlock ms", "first: executions", "counterexample", "exhaustive ms",
              "exhaustive: executions", "verdict"):
        t.add_column(c, justify="right")
    for r in res["abba"]:
        sd = r["source_dpor"]
        t.add_row(str(r["workers"]),
                  f"{_ms(r['first_deadlock_seconds'])} ({_ms(sd['first_deadlock_seconds'])})",
                  str(r["first_executions"]), r["counterexample"] or "-",
                  f"{_ms(r['exhaustive_seconds'])} ({_ms(sd['exhaustive_seconds'])})",
                  f"{r['executions']} ({sd['executions']})", r["exhaustive_verdict"])
    con.print(t)
    con.print(f"  reference, not measured here: {res['spin_reference']}")

    t = Table(title="Baseline: naive enumeration (every interleaving, run once) vs optimal DPOR")
    for c in ("benchmark", "naive executions", "naive traces", "known traces", "naive s",
              "dpor executions", "dpor s", "reduction", "speedup"):
        t.add_column(c, justify="left" if c == "benchmark" else "right")
    for r in res["baseline_naive"]:
        t.add_row(r["benchmark"], f"{r['naive_executions']:,}", str(r["naive_traces"]),
                  str(r["known_traces"]),
                  f"{r['naive_seconds']:.3f}", str(r["dpor_executions"]), f"{r['dpor_seconds']:.4f}",
                  f"{r['reduction']:,.1f}x", _f(r["speedup"], "{:,.1f}x"))
    con.print(t)

    met = res["targets_met"]
    tg = res["targets"]

    def mark(ok):
        return "[green]met[/green]" if ok else "[red]NOT met[/red]"

    worst_first = max((r["first_deadlock_seconds"] or float("inf")) for r in res["abba"])
    worst_red = max((v if v is not None else float("inf")) for v in res["redundancy"].values())
    norace = res["events_per_second_dpor_without_race_detector"]
    con.print(f"events/s (dpor): {res['events_per_second']:,.0f}  target >= {tg['events_per_second']:,}: "
              f"{mark(met['events_per_second'])}")
    con.print(f"  source-dpor: {res['events_per_second_source_dpor']:,.0f}; dpor without the race "
              f"detector: {_f(norace, '{:,.0f}')}")
    con.print(f"slowest first deadlock: {worst_first * 1000:.2f} ms  target < "
              f"{tg['first_deadlock_seconds'] * 1000:.0f} ms: {mark(met['first_deadlock_seconds'])}")
    con.print(f"worst executions/trace (dpor): {worst_red:.2f}  target <= {tg['redundancy']}: "
              f"{mark(met['redundancy'])}")
    con.print(f"trace counts equal the known counts: {mark(met['trace_counts'])}; "
              f"counts identical across repetitions: {mark(res['deterministic_counts'])}")
    con.print(f"total {res['total_seconds']:.1f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ap.add_argument("--quick", action="store_true", help="smoke run: small programs, one repetition")
    ap.add_argument("--repeat", type=int, default=None, help="repetitions per timing (default 3, quick 1)")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds allowed per exhaustive run")
    ap.add_argument("--max-workers", type=int, default=8, help="largest N for AB-BA (default 8)")
    args = ap.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1 or args.max_workers < 0 or args.budget <= 0:
        ap.error("--repeat must be >= 1, --max-workers >= 0, --budget > 0")
    res = run(args)
    if args.json:
        print(json.dumps(res, sort_keys=False))
    else:
        print_tables(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
