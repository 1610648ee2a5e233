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


def _spawn_order_program():
    """The deadlocking thread is spawned only in executions where the registry's id of
    that spawn differs from its creation index (another spawn was seen first)."""
    from pcilock.engine import Mutex, Program, Shared, ThreadSpec
    from pcilock.engine import ops as O

    class Flag(Shared):
        _shared_ = {"v": 0}

    def setup():
        a, b, flag = Mutex("A"), Mutex("B"), Flag()

        def idle():
            yield O.schedule_point()

        def child():
            yield O.lock(b)
            yield O.lock(a)
            yield O.unlock(a)
            yield O.unlock(b)

        def t0():
            if (yield O.read(flag, "v", marked=True)) == 0:
                yield O.spawn(idle, name="idle")
            else:
                yield O.lock(a)
                yield O.lock(b)
                yield O.unlock(b)
                yield O.unlock(a)

        def t1():
            yield O.write(flag, "v", 1, marked=True)
            yield O.spawn(child, name="child")
        return [ThreadSpec("T0", t0), ThreadSpec("T1", t1)]
    return Program(setup, name="spawn-order")


@pytest.mark.parametrize("strategy", ["dpor", "source-dpor"])
def test_found_thread_ids_use_creation_order(strategy):
    # regression: Found.tids were the explorer's registry ids, so minimisation indexed
    # the replayed execution's threads out of range
    r = explore(_spawn_order_program(), strategy=strategy)
    assert r.verdict == "deadlock" and r.error is None
    f = r.found[0]
    names = sorted(f.trace.ex.threads[t].name for t in f.tids)
    assert names == ["T0", "child"]
