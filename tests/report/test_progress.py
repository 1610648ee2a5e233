"""Progress lines: only on a terminal, one rewritten line, then the stop reason."""

from __future__ import annotations

import io

import programs as P

from pcilock.engine import Stats, StopReason, explore
from pcilock.report import Progress, make_progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_silent_when_not_a_tty():
    assert make_progress(io.StringIO()) is None


def test_tty_gets_a_progress():
    assert isinstance(make_progress(Tty()), Progress)
    assert isinstance(make_progress(io.StringIO(), force=True), Progress)


def test_lines_and_finish():
    out = Tty()
    p = make_progress(out)
    p(Stats(executions=12000, events=90000, seconds=4.0, sleep_blocked=30, max_depth=57))
    p(Stats(executions=3, events=9, seconds=5.0))
    p.finish(StopReason.BUDGET)
    text = out.getvalue()
    first, second, last = text.split("\r")[1:]
    assert first == "checking: executions=12000 (3.0k/s), pruned=30, depth=57, 4 s"
    assert second.startswith("checking: executions=3 (1/s), 5 s")
    assert len(second) == len(first)  # padded over the longer previous line
    assert last.endswith("; stopped: the budget ran out before the space was covered\n")


def test_finish_without_stats():
    out = Tty()
    make_progress(out).finish("covered")
    assert out.getvalue() == "\rchecking: done; stopped: covered\n"


def test_explorers_accept_it():
    out = Tty()
    p = make_progress(out)
    r = explore(P.sriov_abba(workers=2), progress=p)
    p.finish(r.stats.stop_reason)
    assert out.getvalue().endswith("stopped at the first violation\n")
