"""Replay round trip: a found violation's replay string reproduces the identical
trace.  This test is never skipped (shuttle's rotted replay tests are the warning)."""

import pytest
import toys

from pcilock.engine import decode, encode, explore, replay

PROGRAMS = [toys.abba(3), toys.philosophers(4), toys.rwsem_recursive_read(),
            toys.completion_handshake(broken=True), toys.choice_program()]


def _trace_text(run):
    return [(e.tid, e.text, tuple(e.stack or ()), tuple(e.held)) for e in run.ex.trace]


@pytest.mark.parametrize("strategy", ["dpor", "source-dpor", "random", "pct", "bounded"])
@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_replay_round_trip(prog, strategy):
    r = explore(prog, strategy=strategy, seed=7, runs=2000)
    assert r.found, f"{strategy} did not find the bug in {prog.name}"
    f = r.found[0]
    text = encode(f.schedule)
    again = replay(prog, decode(text), record=True)
    assert _trace_text(again) == _trace_text(f.trace)
    assert [v.signature for v in again.ex.violations] == [v.signature for v in f.trace.ex.violations]
    assert any(v.signature == f.signature for v in again.ex.violations)


def test_trace_events_carry_thread_stack_and_held_locks():
    r = explore(toys.abba(0))
    ev = r.found[0].trace.ex.trace
    assert ev[0].tid == 0 and ev[0].text == "lock(A)"
    func, path, line = ev[0].stack[-1]
    assert func == "p" and path.endswith("toys.py") and line > 0
    assert ev[1].held == []  # Q holds nothing before taking B
    assert r.found[0].trace.ex.threads[0].held == [(r.found[0].trace.ex.threads[0].held[0][0], "w")]


def test_bad_replay_string():
    from pcilock.engine import ReplayError
    for bad in ["0.1", "p1:a", "p1:0x0", "p1:-1"]:
        with pytest.raises(ReplayError):
            decode(bad)
