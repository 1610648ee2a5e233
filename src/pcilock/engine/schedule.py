"""Compact replay strings for schedules.

A schedule is the list of steps of one execution, each ``(tid, choice)`` where
``tid`` is the index of the thread that moved (threads are numbered in creation
order, so the numbering is deterministic) and ``choice`` the value returned by a
nondeterministic ``choose`` performed in that step (None otherwise).

Encoding: ``p1:`` followed by dot-separated tokens; ``T`` is one step of thread
``T``, ``TxN`` is N consecutive steps of thread T, ``T=C`` is a step of T that
returned choice C.  Example: ``p1:0x3.1.0x2.2=1``.
"""

from __future__ import annotations

from .errors import ReplayError

PREFIX = "p1:"


def encode(schedule):
    toks = []
    i = 0
    n = len(schedule)
    while i < n:
        tid, ch = schedule[i]
        if ch is not None:
            toks.append(f"{tid}={ch}")
            i += 1
            continue
        j = i
        while j < n and schedule[j][0] == tid and schedule[j][1] is None:
            j += 1
        run = j - i
        toks.append(f"{tid}x{run}" if run > 1 else f"{tid}")
        i = j
    return PREFIX + ".".join(toks)


def decode(text):
    text = text.strip()
    if not text.startswith(PREFIX):
        raise ReplayError(f"replay string must start with {PREFIX!r}")
    body = text[len(PREFIX):]
    out = []
    if not body:
        return out
    for tok in body.split("."):
        try:
            if "=" in tok:
                a, b = tok.split("=", 1)
                out.append((int(a), int(b)))
            elif "x" in tok:
                a, b = tok.split("x", 1)
                k = int(b)
                if k < 1:
                    raise ValueError
                out.extend([(int(a), None)] * k)
            else:
                out.append((int(tok), None))
        except ValueError:
            raise ReplayError(f"bad token {tok!r} in replay string") from None
        if out and out[-1][0] < 0:
            raise ReplayError(f"bad thread number in token {tok!r}")
    return out


def preemptions(schedule, enabled_after):
    """Count preemptions: switches away from a thread that could have continued.

    :param enabled_after: for each step i, whether the thread of step i was
        still enabled after it (as recorded by the execution).
    """
    count = 0
    for i in range(1, len(schedule)):
        if schedule[i][0] != schedule[i - 1][0] and enabled_after[i - 1]:
            count += 1
    return count
