"""The text report: plain ASCII, at most 80 columns, for pasting into a mail.

Laid out like the kernel's own reports (lockdep splat, hung-task report,
KCSAN/KASAN) so that a PCI maintainer reads it the way they read a dmesg:
headline, the tasks involved with the locks they hold and the call chains,
the unsafe locking scenario, then the one-line replay command.  Call chains
are printed outermost first (the sysfs store on top), each frame as
``function model/file.py:line (kernel/file.c)``.
"""

from __future__ import annotations

import textwrap

from .frames import frame_text
from .words import (
    access_text,
    edge_count,
    headline,
    plural,
    run_line,
    stack_entries,
    stop_hint,
    verdict_line,
    violation_headline,
)

WIDTH = 80
RULE = "=" * 54
SUB = "-" * 54
MAX_STEPS_SHOWN = 40


class _Out:
    def __init__(self):
        self.lines = []

    def add(self, text="", indent=0, hang=4):
        """Append *text*, wrapped to WIDTH; continuation lines indent by *hang* more."""
        text = _ascii(text)
        if not text:
            self.lines.append("")
            return
        self.lines.extend(textwrap.wrap(text, WIDTH, initial_indent=" " * indent,
                                        subsequent_indent=" " * (indent + hang), break_on_hyphens=False,
                                        break_long_words=True, drop_whitespace=True) or [""])

    def text(self):
        return "\n".join(line.rstrip() for line in self.lines) + "\n"


def _ascii(s):
    return str(s).encode("ascii", "backslashreplace").decode("ascii")


def render_text(report):
    """Render *report* (from :func:`build_report`) as the text report."""
    out = _Out()
    out.add(RULE)
    out.add(headline(report))
    out.add(run_line(report))
    out.add(SUB)
    out.add(verdict_line(report))
    if report["verdict"] == "ok":
        _summary(out, report)
    elif report["verdict"] == "inconclusive" and not report["violations"]:
        _inconclusive(out, report)
    for i, v in enumerate(report["violations"]):
        if i:
            out.add()
            out.add(RULE)
            out.add(violation_headline(v))
            out.add(SUB)
        _violation(out, v)
    if report["error"] is not None:
        _model_error(out, report["error"])
    _lock_graph(out, report["lock_graph"], report)
    return out.text()


def _summary(out, report):
    traces = report["stats"].get("traces")
    extra = f" ({plural(traces, 'distinct trace')})" if traces else ""
    out.add(f"{report['stop_description']}{extra}: no violation.")


def _inconclusive(out, report):
    n = report["stats"]["executions"]
    out.add(f"stopped: {report['stop_description']}.")
    out.add(f"The space was NOT covered: no violation in the {plural(n, 'execution')} that ran, but "
            f"other interleavings were not checked. This is not a proof; {stop_hint(report)}")


# -- violations ------------------------------------------------------------------------

def _violation(out, v):
    kind = v["kind"]
    if kind != "warn":  # a warning's headline is its message already
        out.add(f"{kind}: {v['message']}")
    if kind in ("deadlock", "hang"):
        for t in v["threads"]:
            out.add()
            _task(out, t, v)
        if kind == "deadlock":
            out.add()
            _scenario(out, v)
    elif kind in ("race", "uaf"):
        _accesses(out, v)
    else:
        for t in v["threads"]:
            out.add()
            _task(out, t, v, where="at")
    others = len(v["tasks"]) - len(v["threads"])
    if others > 0:
        out.add()
        out.add(f"({plural(others, 'other task')} not involved; see the JSON or HTML report)")
    _interleaving(out, v)
    out.add()
    out.add(f"replay ({_replay_note(v)}):")
    for line in command_lines(v["replay_command"]):
        out.lines.append(line)


def _replay_note(v):
    pre = v["preemptions"]
    note = f"{plural(pre, 'preemption')}" if pre is not None else "preemptions unknown"
    return note + (", minimized" if v["minimized"] else "")


def _task(out, t, v, where=None):
    state = f", {t['state']}" if t["state"] in ("blocked", "dead") else ""
    out.add(f'task "{t["name"]}" (t{t["tid"]}){state}:')
    held = t["held"]
    if held:
        out.add(f"holds {plural(len(held), 'lock')}:", 2)
        for i, h in enumerate(held):
            out.add(f"#{i}: {_lock(h)}", 4, 6)
    else:
        out.add("holds no lock", 2)
    if t["state"] == "blocked":
        out.add(f"waits for: {t['waits_for'] or t['pending_op']}", 2)
        if t["held_by"]:
            out.add("held by: " + ", ".join(_who(v, n) for n in t["held_by"]), 4)
        elif t["waits_for_kind"] not in ("mutex", "rwsem"):
            out.add("no task will ever provide it", 4)
        if t["pending_op"]:
            out.add(f"at: {t['pending_op']}", 4)
    _stack(out, t["stack"], "call chain" if where is None else "where (outermost first)")


def _who(v, name):
    for t in v["tasks"]:
        if t["name"] == name:
            return f'task "{name}" (t{t["tid"]})'
    return f'task "{name}"'


def _lock(h):
    return h["name"] + (" (read)" if h["mode"] == "read" else "")


def _stack(out, stack, label="call chain", indent=2):
    if not stack:
        return
    if label == "call chain":
        label = "call chain (outermost first)"
    out.add(f"{label}:", indent)
    for fr in stack:
        out.add(frame_text(fr), indent + 2, 6)


def _scenario(out, v):
    threads = v["threads"]
    if len(threads) > 2:
        _cycle_listing(out, v)
        return
    out.add(" Possible unsafe locking scenario:")
    out.add()
    rows = []
    if len(threads) == 1:
        a = threads[0]
        out.add("       CPU0")
        out.add("       ----")
        op = _acquired_op(v, a["name"], a["waits_for"])
        if op:
            rows.append((0, op))
        rows.append((0, a["pending_op"] or "?"))
    else:
        a, b = threads
        out.add(f' CPU0: task "{a["name"]}" (t{a["tid"]}), CPU1: task "{b["name"]}" (t{b["tid"]})')
        out.add()
        out.add("       CPU0                    CPU1")
        out.add("       ----                    ----")
        op = _acquired_op(v, a["name"], b["waits_for"])
        if op:
            rows.append((0, op))
        op = _acquired_op(v, b["name"], a["waits_for"])
        if op:
            rows.append((1, op))
        rows.append((1, b["pending_op"] or "?"))
        rows.append((0, a["pending_op"] or "?"))
    for cpu, op in rows:
        out.add(f"{op};", 2 if cpu == 0 else 31, 2)
    out.add()
    out.add(" *** DEADLOCK ***")


def _acquired_op(v, thread, lock):
    """The operation by which *thread* took *lock*, still held at the end."""
    if lock is None:
        return None
    steps = {e["step"]: e for e in v["events"]}
    for iv in v["holds"]:
        if iv["thread"] == thread and iv["lock"] == lock and iv["to_step"] is None:
            e = steps.get(iv["from_step"])
            return e["op"] if e is not None else f"lock({lock})"
    return None


def _cycle_listing(out, v):
    threads = v["threads"]
    out.add(f" Wait-for cycle of {len(threads)} tasks:")
    out.add()
    for i, t in enumerate(threads):
        prev = threads[i - 1]
        holds = prev["waits_for"] if prev["waits_for"] and any(
            h["name"] == prev["waits_for"] for h in t["held"]) else None
        text = f'"{t["name"]}" (t{t["tid"]})'
        if holds:
            text += f" holds {holds},"
        text += f" waits for {t['waits_for'] or t['pending_op']}"
        if t["held_by"]:
            text += " held by " + ", ".join(f'"{n}"' for n in t["held_by"])
        out.add(text, 2, 4)
    out.add()
    out.add(" *** DEADLOCK ***")


def _accesses(out, v):
    entries = stack_entries(v["detail"])
    for label, entry, stack in entries:
        out.add()
        what = _uaf_label(label, entry) if v["kind"] == "uaf" else None
        what = what or access_text(entry) or label or "access"
        who = entry.get("thread")
        if who is None and isinstance(entry.get("tid"), int):
            who = f"t{entry['tid']}"
        out.add(f'{what} by task "{who}":' if who is not None else f"{what}:")
        _stack(out, stack, indent=2)
    for t in v["threads"]:
        if not entries or t["held"]:
            out.add()
            _task(out, t, v, where="at" if not entries else None)


def _uaf_label(label, entry):
    # KASAN's words: "Read of ... by task", "Freed by task", "Allocated by task"
    if label == "use":
        op = str(entry.get("op") or entry.get("access") or "use")
        target = entry.get("target") or entry.get("field")
        return op.capitalize() + (f" of {target}" if target else "")
    return {"free": "Freed", "alloc": "Allocated"}.get(label)


def _model_error(out, err):
    out.add()
    who = f' in thread "{err["thread"]}"' if err["thread"] else ""
    out.add(f"{err['type']}{who}:")
    out.add(err["message"], 2, 2)
    _stack(out, err["frames"], "model frames (outermost first)")
    if err["replay_command"]:
        out.add()
        out.add("replay:")
        out.lines.extend(command_lines(err["replay_command"]))


def _interleaving(out, v):
    involved = {t["tid"] for t in v["threads"]}
    events = [e for e in v["events"] if not involved or e["tid"] in involved]
    if not events:
        return
    out.add()
    shown = events[-MAX_STEPS_SHOWN:]
    total = len(v["events"])
    out.add(f"interleaving of the tasks above ({len(events)} of {plural(total, 'step')}):")
    if len(shown) < len(events):
        out.add(f"... {plural(len(events) - len(shown), 'earlier step')} not shown", 2)
    width = min(16, max(len(t["name"]) for t in v["tasks"]))
    for e in shown:
        name = e["thread"][:width]
        out.add(f"{e['step']:>5}  {name:<{width}}  {e['op']}", 0, 9 + width)
    for t in v["threads"]:
        if t["state"] == "blocked" and t["pending_op"]:
            out.add(f"{'-':>5}  {t['name'][:width]:<{width}}  {t['pending_op']}  <- blocked", 0, 9 + width)


def command_lines(cmd, width=WIDTH):
    """Split a shell command over lines of at most *width* columns with ``\\``.

    Tokens are kept whole where they fit; a token longer than a line (a long
    schedule) is cut with a backslash-newline inside the word, and continues in
    column 0 so the shell rejoins it unchanged.
    """
    cmd = _ascii(cmd)
    lines = []
    cur = "  "
    for tok in cmd.split(" "):
        sep = "" if cur.strip() == "" else " "
        if len(cur) + len(sep) + len(tok) <= width - 2:
            cur += sep + tok
            continue
        if cur.strip():
            lines.append(cur + " \\")
            cur = "    "
        while len(cur) + len(tok) > width - 1:
            room = width - 1 - len(cur)
            lines.append(cur + tok[:room] + "\\")
            tok = tok[room:]
            cur = ""
        cur += tok
    lines.append(cur)
    return lines


def _lock_graph(out, lg, report=None):
    cycles = lg.get("cycles") or []
    edges = edge_count(lg)
    if not cycles and not edges:
        return
    out.add()
    if not cycles:
        out.add(f"lock-order graph: {plural(edges, 'edge')}, no cycle")
        return
    out.add(f"lock-order graph: {plural(edges, 'edge')}, {plural(len(cycles), 'cycle')}:")
    for i, c in enumerate(cycles):
        locks = [str(x) for x in c.get("locks") or []]
        chain = " -> ".join(locks + locks[:1])
        seen = "lockdep would report it" if c.get("lockdep_visible") else "invisible to lockdep"
        if c.get("deadlock_possible") is False:
            seen += "; too few tasks take these locks in these orders to close it: not a deadlock"
        out.add(f"#{i}: {chain} ({seen})", 2, 6)
    if report is not None and report.get("verdict") == "ok" and report.get("exhaustive"):
        out.add("No interleaving closes any of these cycles (every one was explored): the "
                "state the tasks must be in to take the locks in both orders never arises "
                "together; lockdep, which records only lock orders, would still report a "
                "cycle it can see.", 0, 0)
