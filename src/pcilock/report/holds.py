"""Lock holding intervals of a counterexample, for the swimlanes.

Each recorded event carries the locks its thread held *before* it; what the
thread holds *after* it is what it held before its next event (or, after its
last one, at the end of the run).  The difference between the two is what the
event acquired or released.  Holds are matched as a multiset, so a read lock
taken twice gives two nested intervals.
"""

from __future__ import annotations


def hold_intervals(events, final_held, tids, names):
    """Return ``[{"tid", "thread", "lock", "mode", "from_step", "to_step", "cycle"}]``.

    ``to_step`` is the step of the releasing event, or None when the lock is
    still held at the end of the counterexample.

    :param final_held: ``{tid: [{"name", "mode"}]}`` at the end of the run.
    :param tids: thread ids, in the order intervals are listed.
    """
    per_thread = {}
    for e in events:
        per_thread.setdefault(e["tid"], []).append(e)
    out = []
    for tid in tids:
        evs = per_thread.get(tid, [])
        open_ = {}
        mine = []
        for i, e in enumerate(evs):
            before = [(h["name"], h["mode"]) for h in e["held"]]
            after_list = evs[i + 1]["held"] if i + 1 < len(evs) else final_held.get(tid, [])
            after = [(h["name"], h["mode"]) for h in after_list]
            for key in _minus(before, after):
                stack = open_.get(key)
                if stack:
                    stack.pop()["to_step"] = e["step"]
            for key in _minus(after, before):
                iv = {"tid": tid, "thread": names.get(tid, f"t{tid}"), "lock": key[0], "mode": key[1],
                      "from_step": e["step"], "to_step": None, "cycle": False}
                open_.setdefault(key, []).append(iv)
                mine.append(iv)
        out.extend(mine)
    return out


def _minus(a, b):
    rest = list(b)
    out = []
    for x in a:
        if x in rest:
            rest.remove(x)
        else:
            out.append(x)
    return out


def mark_cycle(cycle, holds, events):
    """Flag the holds (and the events taking them) that the deadlock cycle waits on.

    :param cycle: the ``detail["cycle"]`` entries (``thread``, ``waits_for``, ``held_by``).
    """
    members = {c["thread"] for c in cycle}
    wanted = set()
    for c in cycle:
        for holder in c.get("held_by", []):
            if holder in members and c.get("waits_for") is not None:
                wanted.add((holder, c["waits_for"]))
    steps = set()
    for iv in holds:
        if iv["to_step"] is None and (iv["thread"], iv["lock"]) in wanted:
            iv["cycle"] = True
            steps.add(iv["from_step"])
    for e in events:
        e["cycle"] = e["step"] in steps
