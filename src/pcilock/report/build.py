"""Build the report of one check: a plain dict, the JSON report itself.

Every renderer (text, JSON, DOT, HTML) reads only this dict, never the engine's
objects, so all of them show the same facts.  The dict is documented field by
field in ``docs/report-json.md`` and checked by ``schema.json``.

Which tasks a violation *involves*: for a deadlock the tasks of the wait-for
cycle, for a hang the blocked tasks, otherwise the tasks the violation names.
The text report shows only those; ``tasks`` and ``events`` keep every task of
the counterexample (for the HTML swimlanes).
"""

from __future__ import annotations

import os
import shlex

from .. import __version__
from ..engine.result import KIND_ORDER, Found, StopReason
from ..engine.schedule import encode
from .frames import Frames, held_list, is_stack, obj_name, package_relative, sanitize, strip_paths
from .holds import hold_intervals, mark_cycle

FORMAT = "pcilock-report/1"


def build_report(*, scenario, regime, result, strategy, seed, cite=None, replay_command=None):
    """Return the report of *result* as a JSON-ready dict.

    :param scenario: ``{"id", "title", "path", "links"}``.
    :param regime: the regime string, e.g. ``v7.2+nechita-v14``.
    :param result: a :class:`pcilock.engine.Result`.
    :param cite: ``cite(function, model_file) -> str | None``: the kernel file a
        model function mirrors.
    :param replay_command: ``replay_command(found) -> str``: the full command
        line replaying a counterexample; default ``pcilock replay ID --kernel
        REGIME --schedule STRING``.
    """
    frames = Frames(cite)
    scen = _scenario(scenario)
    if replay_command is None:
        replay_command = _default_replay_command(scen, regime)
    stats = result.stats.to_json()
    stop = result.stats.stop_reason
    report = {
        "format": FORMAT,
        "pcilock_version": __version__,
        "scenario": scen,
        "regime": regime,
        "verdict": result.verdict,
        "exhaustive": bool(result.exhaustive),
        "strategy": strategy or getattr(result, "strategy", "") or "",
        "seed": seed,
        "stop_description": result.stats.describe_stop() if isinstance(stop, StopReason) else str(stop),
        "stats": stats,
        "violations": [_violation(f, frames, replay_command) for f in _by_severity(result.found)],
        "lock_graph": _lock_graph(result, frames),
        "error": _error(result, frames, replay_command),
    }
    return report


def _by_severity(found):
    """The violations most severe kind first (the verdict's kind, so the text report's headline is
    the verdict's violation), in the order found within a kind."""
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    return sorted(found, key=lambda f: rank.get(f.kind, len(rank)))


def _scenario(s):
    s = dict(s or {})
    links = s.get("links") or []
    return {
        "id": str(s.get("id") or ""),
        "title": str(s["title"]) if s.get("title") is not None else None,
        "path": _path_text(s.get("path")),
        "links": [str(x) for x in links],
    }


def _path_text(p):
    # a file inside the package is shown relative to it, one under the current directory
    # relative to that; any other path as given (what the user typed)
    if p is None:
        return None
    p = os.fspath(p)
    rel = package_relative(p)
    if rel is not None:
        return rel
    if os.path.isabs(p):
        cwd = os.getcwd()
        if p.startswith(cwd + os.sep):
            return os.path.relpath(p, cwd).replace(os.sep, "/")
    return str(p)


def _default_replay_command(scen, regime):
    target = scen["id"] or scen["path"] or "SCENARIO"

    def command(found):
        return (f"pcilock replay {shlex.quote(target)} --kernel {shlex.quote(str(regime))} "
                f"--schedule {encode(found.schedule)}")
    return command


# -- violations --------------------------------------------------------------------------

def _involved(f):
    d = f.detail or {}
    if f.kind == "deadlock" and isinstance(d.get("cycle"), (list, tuple)):
        tids = d["cycle"]
    elif f.kind == "hang" and isinstance(d.get("blocked"), (list, tuple)):
        tids = d["blocked"]
    else:
        tids = f.tids or []
    return list(dict.fromkeys(x for x in tids if isinstance(x, int)))


def _violation(f, frames, replay_command):
    run = f.trace
    ex = getattr(run, "ex", None)
    order = list(getattr(ex, "order", None) or [])
    names = {t.tid: t.name for t in order}
    involved = _involved(f)
    tasks = [_task(ex, t, f, frames, t.tid in involved, len(involved)) for t in order]
    known = {t["tid"] for t in tasks}
    tasks += [_stub_task(tid) for tid in involved if tid not in known]
    by_tid = {t["tid"]: t for t in tasks}
    events = [_event(e, names, frames) for e in (getattr(ex, "trace", None) or [])]
    final_held = {t.tid: held_list(t.held) for t in order}
    holds = hold_intervals(events, final_held, [t["tid"] for t in tasks], names)
    detail = _detail(f, by_tid, involved, frames, names)
    if f.kind == "deadlock":
        mark_cycle(detail.get("cycle", []), holds, events)
    return {
        "kind": f.kind,
        "message": strip_paths(str(f.message)),
        "replay": encode(f.schedule),
        "replay_command": replay_command(f),
        "preemptions": f.preemptions,
        "minimized": bool(getattr(f, "minimized", False)),
        "threads": [by_tid[tid] for tid in involved],
        "tasks": tasks,
        "events": events,
        "holds": holds,
        "detail": detail,
    }


def _state(ex, t):
    if getattr(t, "dead", False):
        return "dead"
    if t.done or t.pending is None:
        return "done"
    return "runnable" if ex.is_enabled(t) else "blocked"


def _task(ex, t, f, frames, involved, ninvolved):
    state = _state(ex, t)
    pending = t.pending
    waits_for = kind = None
    held_by = []
    if state == "blocked":
        obj = _op_obj(pending)
        if obj is None and len(pending) > 1 and hasattr(pending[1], "tid"):
            waits_for, kind = f"task {pending[1].name}", "task"
        elif obj is not None:
            waits_for, kind = obj_name(obj), getattr(obj, "kind", None)
        held_by = [ex.threads[x].name for x in ex.waits_for(t)]
    stack = None
    if involved and f.kind not in ("deadlock", "hang"):
        stack = _detail_stack(f.detail or {}, t.tid, t.name, ninvolved)
    if stack is None:
        stack = t.stack if pending is not None and t.stack is not None else _last_stack(ex, t.tid)
    return {
        "tid": t.tid,
        "name": t.name,
        "state": state,
        "involved": bool(involved),
        "stack": frames.stack(stack),
        "held": held_list(t.held),
        "pending_op": _describe(pending) if pending is not None else None,
        "waits_for": waits_for,
        "waits_for_kind": kind,
        "held_by": held_by,
    }


def _stub_task(tid):
    return {"tid": tid, "name": f"t{tid}", "state": "unknown", "involved": True, "stack": [], "held": [],
            "pending_op": None, "waits_for": None, "waits_for_kind": None, "held_by": []}


def _last_stack(ex, tid):
    for e in reversed(getattr(ex, "trace", None) or []):
        if e.tid == tid:
            return e.stack
    return []


def _detail_stack(detail, tid, name, ninvolved):
    """The stack a kind-specific detail gives for thread *tid* (named *name*), if any.

    Race accesses and the use/free of a use-after-free carry the thread as
    ``thread`` (name) or ``tid``; a one-thread violation may have ``frames``.
    """
    todo = [v for k, v in detail.items() if k != "frames"]
    while todo:
        d = todo.pop(0)
        if isinstance(d, dict):
            if d.get("tid") == tid or (name is not None and d.get("thread") == name):
                for key in ("stack", "frames"):
                    if is_stack(d.get(key)):
                        return d[key]
            todo.extend(d.values())
        elif isinstance(d, list):
            todo.extend(d)
    if ninvolved == 1 and is_stack(detail.get("frames")):
        return detail["frames"]
    return None


def _event(e, names, frames):
    return {
        "step": e.step,
        "tid": e.tid,
        "thread": names.get(e.tid, f"t{e.tid}"),
        "op": strip_paths(str(e.text)),
        "op_name": _op_name(e.op),
        "stack": frames.stack(e.stack),
        "held": held_list(e.held),
        "notes": [strip_paths(obj_name(n) if not isinstance(n, str) else n) for n in (e.notes or [])],
        "cycle": False,
    }


def _detail(f, by_tid, involved, frames, names):
    raw = f.detail or {}
    detail = sanitize(raw, frames, names)
    if f.kind == "deadlock":
        detail["cycle"] = [_wait_entry(by_tid[x]) for x in involved]
    elif f.kind == "hang":
        detail["blocked"] = [_wait_entry(by_tid[x]) for x in involved]
    return detail


def _wait_entry(task):
    return {"tid": task["tid"], "thread": task["name"], "waits_for": task["waits_for"],
            "pending_op": task["pending_op"], "held_by": list(task["held_by"])}


# -- lock graph and model errors ---------------------------------------------------------

def _lock_graph(result, frames):
    lg = getattr(result, "lock_graph", None)
    data = None
    if lg is not None:
        data = lg.to_json() if hasattr(lg, "to_json") else lg
    if not isinstance(data, dict):
        return {"cycles": [], "edges": 0}
    out = sanitize(data, frames, {})
    out.setdefault("cycles", [])
    out.setdefault("edges", 0)
    return out


def _error(result, frames, replay_command):
    err = getattr(result, "error", None)
    if err is None:
        return None
    sched = getattr(result, "error_schedule", None)
    replay = cmd = None
    if sched is not None:
        replay = encode(sched)
        cmd = replay_command(Found(kind="model-error", message=str(err), signature=(), schedule=sched,
                                   tids=[]))
    thread = getattr(err, "thread", None)
    return {
        "type": type(err).__name__,
        "message": strip_paths(str(getattr(err, "message", None) or err)),
        "thread": str(thread) if thread is not None else None,
        "frames": frames.stack(getattr(err, "frames", None) or []),
        "replay": replay,
        "replay_command": cmd,
    }


# -- engine helpers, imported defensively (private names of execution.py) ----------------

def _op_obj(op):
    try:
        from ..engine.execution import _op_obj as engine_op_obj
    except ImportError:  # pragma: no cover - engine refactored
        return op[1] if op and len(op) > 1 and hasattr(op[1], "name") else None
    return engine_op_obj(op)


def _describe(op):
    from ..engine.execution import describe_op
    try:
        return strip_paths(describe_op(op))
    except Exception:  # an op the describer cannot show (e.g. a half-built tuple)
        return _op_name(op)


def _op_name(op):
    from ..engine.ops import OP_NAMES
    if not op:
        return "?"
    return OP_NAMES.get(op[0], str(op[0]))
