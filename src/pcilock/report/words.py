"""Phrases shared by the text and HTML reports: headlines, summaries, labels.

Headlines follow the kernel's own reports, so a maintainer recognises the kind
of failure at a glance and can grep for it: lockdep's "possible circular
locking dependency", the hung-task "INFO: task ... blocked", KCSAN's
"data-race in f1 / f2", KASAN's "use-after-free in f".
"""

from __future__ import annotations

_MODES = {
    "covered": "exhaustive",
    "budget": "budget exhausted",
    "violation": "stopped at first violation",
    "sampled": "sampled",
    "bound": "bound reached",
    "model-error": "model error",
}
# keys of a detail dict, in the order their stacks are shown (KASAN shows the use first)
_STACK_KEYS = ("use", "access", "accesses", "first", "second", "current", "other", "free", "alloc")
LOCK_KINDS = ("mutex", "rwsem", "gate")


def edge_count(lock_graph):
    """Number of lock-order edges (the engine gives a count or a list)."""
    edges = lock_graph.get("edges", 0)
    return len(edges) if isinstance(edges, list) else int(edges or 0)


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def run_line(report):
    """``pcilock 0.1.0: seed-000 on v7.2 (dpor, exhaustive)``."""
    sc = report["scenario"]
    name = sc["id"] or sc["path"] or "scenario"
    mode = "exhaustive" if report["exhaustive"] else stop_mode(report["stats"])
    extra = f", seed {report['seed']}" if report["strategy"] in ("random", "pct") else ""
    return f"pcilock {report['pcilock_version']}: {name} on {report['regime']} " \
           f"({report['strategy']}{extra}, {mode})"


def stop_mode(stats):
    """Why a run stopped, in a few words: ``execution limit reached``."""
    stop = stats.get("stop_reason", "")
    if stop == "budget" and stats.get("limit") == "executions":
        return "execution limit reached"
    if stop == "budget" and stats.get("limit") == "seconds":
        return "time budget exhausted"
    if stop == "bound" and stats.get("bound") is not None:
        return f"preemption bound {stats['bound']} reached"
    return _MODES.get(stop, stop)


def stop_hint(report):
    """What to do about a run that stopped before covering the space, naming the limit that ended it."""
    st = report["stats"]
    stop, limit, strategy = st.get("stop_reason", ""), st.get("limit"), report["strategy"]
    if stop == "bound":
        bound = f" ({st['bound']})" if st.get("bound") is not None else ""
        return (f"bounded search reached its preemption bound{bound}, which is not a command-line "
                f"option: it is not exhaustive; use --strategy dpor (exhaustive).")
    larger = "give a larger --executions" if limit == "executions" else "give a larger --budget"
    if strategy in ("random", "pct"):
        return (f"{strategy} only samples interleavings and never covers the space: {larger} to "
                f"sample more, or use --strategy dpor (exhaustive).")
    if stop == "sampled":
        return "use --strategy dpor (exhaustive)."
    if strategy == "bounded":
        bound = f" {st['bound']}" if st.get("bound") is not None else ""
        return (f"{larger}; even then bounded search covers only interleavings up to preemption "
                f"bound{bound}: use --strategy dpor (exhaustive).")
    return f"{larger}."


def verdict_line(report):
    """``verdict: deadlock after 12 executions, 340 events, 0.05 s``."""
    st = report["stats"]
    return (f"verdict: {report['verdict']} after {plural(st['executions'], 'execution')}, "
            f"{plural(st['events'], 'event')}, {st['seconds']:.2f} s")


def headline(report):
    """The first line of the report."""
    if report["violations"]:
        return violation_headline(report["violations"][0])
    verdict = report["verdict"]
    if verdict == "ok":
        return "pcilock: OK, no violation found"
    if verdict == "model-error":
        return "pcilock: MODEL ERROR (a bug in the model, not a verdict on the kernel)"
    return "pcilock: INCONCLUSIVE, the space was not covered"


def violation_headline(v):
    kind = v["kind"]
    threads = v["threads"]
    if kind == "deadlock":
        if len(threads) == 1:
            if threads[0]["waits_for_kind"] in LOCK_KINDS:
                return "WARNING: possible recursive locking detected"
            return f'WARNING: task "{threads[0]["name"]}" waits for itself'
        return "WARNING: possible circular locking dependency detected"
    if kind == "hang":
        if not threads:
            return "INFO: task blocked forever"
        more = f" (and {plural(len(threads) - 1, 'more task')})" if len(threads) > 1 else ""
        return f'INFO: task {threads[0]["name"]} blocked forever{more}'
    if kind == "race":
        funcs = [stack[-1]["function"] for _, _, stack in stack_entries(v["detail"]) if stack]
        if len(funcs) >= 2:
            return f"BUG: KCSAN: data-race in {funcs[0]} / {funcs[1]}"
        return "BUG: KCSAN: data-race" + (f" in {funcs[0]}" if funcs else "")
    if kind == "uaf":
        entries = stack_entries(v["detail"])
        where = ""
        if entries and entries[0][2]:
            where = f" in {entries[0][2][-1]['function']}"
        elif threads and threads[0]["stack"]:
            where = f" in {threads[0]['stack'][-1]['function']}"
        if "null" in v["message"].lower():
            return f"BUG: kernel NULL pointer dereference{where}"
        return f"BUG: KASAN: use-after-free{where}"
    if kind == "warn":
        return f"WARNING: {v['message']}"
    return f"BUG: {kind}: {v['message']}"


def is_frame_dict(x):
    return isinstance(x, dict) and "function" in x and "model_file" in x


def is_frames(x):
    return isinstance(x, list) and bool(x) and all(is_frame_dict(f) for f in x)


def stack_entries(detail):
    """The stacks a (sanitized) detail holds: ``[(label, entry dict, frames)]``.

    For a race the two accesses, for a use-after-free the use then the free.
    The detail's own top-level ``frames`` (where the violation was detected)
    counts only when it holds no other stack.
    """
    out = []

    def keyorder(d):
        known = [k for k in _STACK_KEYS if k in d]
        return known + sorted(k for k in d if k not in known)

    def walk(label, x):
        if isinstance(x, dict):
            for key in ("stack", "frames"):
                if is_frames(x.get(key)):
                    out.append((label, x, x[key]))
                    break
            for k in keyorder(x):
                if k not in ("stack", "frames"):
                    walk(k, x[k])
        elif isinstance(x, list) and not is_frames(x):
            for item in x:
                walk(label, item)

    for k in keyorder(detail):
        if k not in ("stack", "frames"):
            walk(k, detail[k])
    if not out and is_frames(detail.get("frames")):
        out.append(("", detail, detail["frames"]))
    return out


def access_text(entry):
    """How a detail entry describes its access, KCSAN-style: ``write to Type.field of obj``."""
    what = next((str(entry[k]) for k in ("text", "op", "access", "mode", "kind") if entry.get(k)), "")
    if what and entry.get("marked"):
        what += " (marked)"
    target = next((str(entry[k]) for k in ("field", "location", "target", "object", "obj")
                   if entry.get(k)), "")
    if what and target and target not in what:
        return f"{what} to {target}"
    return what or target
