"""The commands behind :mod:`pcilock.cli.main` (kept apart so ``--help`` stays fast)."""

from __future__ import annotations

import gc
import json
import sys
import time

import click

from pcilock.engine import Budget, decode, encode, explore, replay, run_one
from pcilock.engine.errors import ModelError, ReplayError
from pcilock.kernel import load_all
from pcilock.kernel._model import citation_of, relpath
from pcilock.patches import RegimeError, build_table, parse_regime
from pcilock.scenarios.program import make_program

from .main import EXIT_INPUT, EXIT_MODEL_ERROR, fail_input

DEFAULT_BUDGET = 300.0


def _load(name):
    from pcilock.scenarios.catalogue import resolve
    from pcilock.scenarios.parse import ScenarioError, load_scenario

    try:
        return load_scenario(resolve(name))
    except ScenarioError as e:
        fail_input(str(e))


def _regime(text, where="--kernel"):
    load_all()
    try:
        r = parse_regime(text)
        build_table(r)
    except RegimeError as e:
        fail_input(f"{where} {text}: {e.detail}")
    return r


def _check_ops(sc, regime):
    from pcilock.scenarios.parse import ScenarioError, check_regime

    try:
        check_regime(sc, regime)
    except ScenarioError as e:
        fail_input(str(e))


def _cite(func, model_file, line=None):
    return citation_of(func, model_file, line)


def _scenario_meta(sc):
    return {"id": sc.id, "title": sc.title, "path": sc.path, "links": list(sc.links)}


_HEAP_SETTLED = []


def _settle_heap():
    """Once per process, before a command's first exploration: collect, then move every
    object alive now (the loaded model, the catalogue, the interpreter's own) out of the
    garbage collector's reach.  Each execution builds a world full of reference cycles
    (parents and children, buses and devices) that only the collector frees; its full
    collections then no longer walk the long-lived objects again and again (8% of case-07's
    time).  Only the commands call it: a process-wide choice for a one-shot process, not
    for a library user of run_check()."""
    if not _HEAP_SETTLED:
        gc.collect()
        gc.freeze()
        _HEAP_SETTLED.append(True)


def run_check(sc, regime, strategy=None, budget=None, seed=None, all_=False, progress=None, executions=None):
    """Explore *sc* under *regime*; arguments left None take the scenario's ``[check]`` values.

    Returns ``(result, strategy, seed)``: the strategy and seed the exploration used."""
    seed = seed if seed is not None else sc.options.get("seed", 0)
    all_ = all_ or bool(sc.options.get("all", False))
    strategy = strategy or sc.options.get("strategy", "dpor")
    budget = budget if budget is not None else sc.options.get("budget", DEFAULT_BUDGET)
    executions = executions if executions is not None else sc.options.get("executions")
    kw = {}
    if "max_steps" in sc.options:
        kw["max_steps"] = sc.options["max_steps"]
    program = make_program(sc, regime)
    result = explore(program, strategy, seed=seed, budget=Budget(seconds=budget, executions=executions),
                     stop_on_first=not all_,
                     progress=progress, **kw)
    return result, strategy, seed


def _report(sc, scenario_arg, regime, result, strategy, seed):
    from pcilock.report.build import build_report

    def replay_command(found):
        return f"pcilock replay {scenario_arg} --kernel {regime} --schedule {encode(found.schedule)}"

    return build_report(scenario=_scenario_meta(sc), regime=str(regime), result=result, strategy=strategy,
                        seed=seed, cite=_cite, replay_command=replay_command)


def do_check(scenario, regime_text, strategy, budget, seed, fmt, all_, out, html, dot, executions=None):
    from pcilock.report import ReportPathError
    from pcilock.report.io import check_writable, write_reports

    sc = _load(scenario)
    regime = _regime(regime_text)
    _check_ops(sc, regime)
    options = {path: f"--{name}" for name, path in (("out", out), ("html", html), ("dot", dot)) if path}
    for path, option in options.items():
        try:
            check_writable(path)
        except (ReportPathError, OSError, ValueError) as e:
            fail_input(f"{option}: {e}")
    progress = None
    try:
        from pcilock.report.progress import make_progress

        progress = make_progress(sys.stderr)
    except ImportError:
        pass
    _settle_heap()
    result, strategy, seed = run_check(sc, regime, strategy, budget, seed, all_, progress, executions)
    if progress is not None and hasattr(progress, "finish"):
        progress.finish(result.stats.describe_stop())
    report = _report(sc, scenario, regime, result, strategy, seed)
    from pcilock.report.jsonout import render_json
    from pcilock.report.text import render_text

    text = render_json(report) if fmt == "json" else render_text(report)
    click.echo(text, nl=not text.endswith("\n"))
    files = []  # written together: every temporary file first, then the renames
    if out:
        files.append((out, text))
    if html:
        from pcilock.report.html import render_html

        files.append((html, render_html(report)))
    if dot:
        from pcilock.report.dot import render_dot

        files.append((dot, render_dot(report)))
    try:
        write_reports(files)
    except ReportPathError as e:
        fail_input(f"{options.get(e.path, 'report')}: {e}")
    return result.exit_code


def do_replay(scenario, regime_text, schedule, fmt):
    sc = _load(scenario)
    regime = _regime(regime_text)
    try:
        sched = decode(schedule)
    except (ReplayError, ValueError) as e:
        fail_input(f"--schedule {schedule!r}: {e}")
    program = make_program(sc, regime)
    kw = {"max_steps": sc.options["max_steps"]} if "max_steps" in sc.options else {}
    try:
        run = replay(program, sched, record=True, mismatch=ReplayError, **kw)
    except ReplayError as e:
        _unfit(sc, regime, str(e))
    except ModelError as e:
        click.echo(f"model error: {e}", err=True)
        return EXIT_MODEL_ERROR
    ex = run.ex
    misfit = _misfit(run, sched, kw.get("max_steps"))
    if misfit:
        _unfit(sc, regime, misfit)
    events = []
    for ev in ex.trace:
        top = ev.stack[-1] if ev.stack else None
        events.append({
            "step": ev.step, "thread": ex.threads[ev.tid].name, "op": ev.text,
            "at": f"{top[0]} {relpath(top[1])}:{top[2]}" if top else None,
            "mirrors": _cite(top[0], top[1]) if top else None,
            "held": [n for n, _ in ev.held], "notes": list(ev.notes or ()),
        })
    violations = [{"kind": v.kind, "message": v.message,
                   "threads": [ex.threads[t].name for t in v.tids]} for v in ex.violations]
    if fmt == "json":
        click.echo(json.dumps({"scenario": sc.id, "regime": str(regime), "schedule": schedule,
                               "events": events, "violations": violations}, indent=2))
    else:
        click.echo(f"replay of {sc.id} under {regime} ({len(events)} events)")
        for e in events:
            for n in e["notes"]:
                click.echo(f"{'':5} {e['thread']:<14} # {n}")
            held = f"  [holds {', '.join(e['held'])}]" if e["held"] else ""
            click.echo(f"{e['step']:5} {e['thread']:<14} {e['op']:<44} {e['at'] or ''}{held}")
        for v in violations:
            click.echo(f"{v['kind'].upper()}: {v['message']} ({', '.join(v['threads'])})")
        if not violations:
            click.echo("no violation in this interleaving")
    return 1 if violations else 0


def _unfit(sc, regime, why):
    fail_input(f"--schedule does not fit this scenario/regime ({sc.id} under {regime}): {why} "
               f"(a replay string only fits the scenario and regime it was printed for)")


def _misfit(run, sched, max_steps=None):
    """Why *sched* does not describe a whole execution that *run* replayed, or None.

    A schedule may stop early only at a violation (check prints a counterexample's
    schedule up to the step that violates); it may not go on after the execution ended."""
    ex = run.ex
    done = len(run.schedule)
    for i, ((_, want), (tid, got)) in enumerate(zip(sched, run.schedule, strict=False)):
        if want is not None and got is None:
            return f"step {i} gives thread {tid} a choice ({want}), but that step chooses nothing"
    if done < len(sched):
        return (f"it has {len(sched)} steps, but the execution ends after {done} "
                f"(no thread can run then)")
    if run.how == "stopped" and not ex.violations:
        names = ", ".join(f"{t} ({ex.threads[t].name})" for t in ex.enabled())
        more = _steps_to_finish(run.ex.program, sched, max_steps)
        need = f"; running on without preemption ends it after {more} more" if more else ""
        return f"it has {len(sched)} steps and ends while threads can still run (enabled are {names}){need}"
    return None


def _steps_to_finish(program, sched, max_steps):
    """Steps after *sched* until the execution ends, each thread running on while it can."""
    class _Policy:
        def __call__(self, ex, enabled, last, i):
            self.i = i
            if i < len(sched):
                return sched[i][0]
            return last if last in enabled else enabled[0]

        def choice(self, ex, tid, n):
            return (sched[self.i][1] or 0) if self.i < len(sched) else 0

    kw = {} if max_steps is None else {"max_steps": max_steps}
    try:
        r = run_one(program, _Policy(), stop_on_violation=True, races=False, final_checks=False, **kw)
    except ModelError:
        return None
    return len(r.schedule) - len(sched)


def do_list():
    from pcilock.scenarios.catalogue import list_catalogue
    from pcilock.scenarios.parse import ScenarioError

    try:
        scs = list_catalogue()
    except ScenarioError as e:
        fail_input(str(e))
    import textwrap

    width = max([len(r) for sc in scs for r in sc.expect] + [8])
    for sc in scs:
        click.echo(f"{sc.id}")
        if sc.title:
            click.echo(textwrap.fill(sc.title, 80, initial_indent="    ", subsequent_indent="    ",
                                     break_on_hyphens=False, break_long_words=False))
        for r, vs in sc.expect.items():
            click.echo(f"    {r:<{width}}  {' | '.join(vs)}")
    return 0


def do_matrix(names, fmt):
    from pcilock.scenarios.catalogue import list_catalogue

    scs = [_load(n) for n in names] if names else list_catalogue()
    bare = [sc for sc in scs if not sc.expect]
    level = "error" if len(bare) == len(scs) else "warning"
    for sc in bare:
        click.echo(f"pcilock: {level}: {sc.path}: scenario {sc.id} has no [expect] table, so matrix "
                   f"has nothing to check for it (use check --kernel REGIME)", err=True)
    if bare and level == "error":
        return EXIT_INPUT
    rows = []
    bad = 0
    errors = 0
    # text: a heading line per scenario, then one line per regime (80 columns for regimes of
    # up to 35 characters; the catalogue's longest has 31)
    rw = max((len(r) for sc in scs for r in sc.expect), default=0)
    for sc in scs:
        if fmt == "text" and sc.expect:
            click.echo(sc.id)
        for rtext, expected in sc.expect.items():
            regime = _regime(rtext, where=f"{sc.path}: [expect]")
            _settle_heap()
            t0 = time.perf_counter()
            result, strategy, _ = run_check(sc, regime)
            secs = time.perf_counter() - t0
            ok = result.verdict in expected
            if not ok:
                bad += 1
            if result.verdict == "model-error":
                errors += 1
            rows.append({"scenario": sc.id, "regime": rtext, "expected": list(expected),
                         "verdict": result.verdict, "holds": ok, "strategy": strategy,
                         "exhaustive": result.exhaustive, "executions": result.stats.executions,
                         "events": result.stats.events, "seconds": round(secs, 2),
                         "error": str(result.error) if result.error else None})
            if fmt == "text":
                mark = "ok  " if ok else "FAIL"
                click.echo(f"  {mark}  {rtext:<{rw}}  {result.verdict:<12} "
                           f"{result.stats.executions:>7} exec {secs:7.2f} s")
                if not ok:
                    click.echo(f"        expected {' or '.join(expected)}")
                if result.error:
                    click.echo(f"        model error: {result.error}")
    if fmt == "json":
        click.echo(json.dumps({"rows": rows, "failures": bad}, indent=2))
    else:
        click.echo(f"{len(rows)} expectations, {len(rows) - bad} hold, {bad} do not")
    if errors:
        return EXIT_MODEL_ERROR
    return 0 if bad == 0 else 1


def do_explain(function, regime_text):
    from .explain import explain

    regime = _regime(regime_text)
    table, _, changed = build_table(regime)
    name = function.strip().rstrip("()")
    if not explain(name, table, regime.base, click.echo):
        close = sorted(n for n in table if name in n)[:10]
        hint = f"; similar: {', '.join(close)}" if close else ""
        fail_input(f"no model function {name!r} in {regime}{hint}")
    if name in changed:
        click.echo(f"\n  (this regime's version comes from {changed[name]})")
    return 0


_ = EXIT_INPUT
