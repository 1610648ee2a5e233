"""Data-race detector (KCSAN's definition, happens-before by vector clocks)."""

import pytest
import toys

from pcilock.engine import (
    Completion,
    Gate,
    Mutex,
    Program,
    RWSem,
    Setup,
    Shared,
    ThreadSpec,
    decode,
    encode,
    explore,
    replay,
)
from pcilock.engine import ops as O


class Counter(Shared):
    _shared_ = {"count": 0, "other": 0}

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "name", "ctr")


def increment(lock=False, read_marked=False, write_marked=False, use_rmw=False):
    """Two threads increment one counter."""
    def setup():
        c = Counter()
        m = Mutex("m")

        def inc():
            if lock:
                yield O.lock(m)
            if use_rmw:
                yield O.rmw(c, "count", lambda v: v + 1)
            else:
                v = yield O.read(c, "count", marked=read_marked)
                yield O.write(c, "count", v + 1, marked=write_marked)
            if lock:
                yield O.unlock(m)
        return Setup([ThreadSpec("A", inc), ThreadSpec("B", inc)], c)
    return Program(setup, name="increment")


def test_unlocked_increment_races():
    r = explore(increment())
    assert r.verdict == "race"
    f = r.found[0]
    assert f.kind == "race"
    acc = f.detail["accesses"]
    assert len(acc) == 2
    assert {a["thread"] for a in acc} == {"A", "B"}
    assert all(a["field"] == "Counter.count of ctr" for a in acc)
    assert "write" in {a["op"] for a in acc}
    for a in acc:
        func, path, line = a["frames"][-1]
        assert func == "inc" and path.endswith("test_races.py")
        assert a["marked"] is False
    assert "data race on Counter.count of ctr" in f.message
    # the counterexample is minimal: the two accesses, with one preemption at most
    assert len(f.schedule) <= 3
    assert f.trace is not None


def test_all_races_of_the_increment_are_reported_once_each():
    r = explore(increment(), stop_on_first=False)
    assert r.exhaustive
    assert [f.kind for f in r.found] == ["race", "race"]
    # read/write and write/write: two pairs of code locations
    sigs = [f.signature for f in r.found]
    assert len(set(sigs)) == 2
    ops = sorted(tuple(sorted(a["op"] for a in f.detail["accesses"])) for f in r.found)
    assert ops == [("read", "write"), ("write", "write")]


def test_increment_under_a_mutex_does_not_race():
    r = explore(increment(lock=True), stop_on_first=False)
    assert r.verdict == "ok" and r.exhaustive


def test_marked_accesses_on_both_sides_do_not_race():
    r = explore(increment(read_marked=True, write_marked=True), stop_on_first=False)
    assert r.verdict == "ok" and r.exhaustive


def test_atomic_rmw_does_not_race():
    assert explore(increment(use_rmw=True), stop_on_first=False).verdict == "ok"


def test_plain_write_against_marked_read_races():
    r = explore(increment(read_marked=True), stop_on_first=False)
    assert r.verdict == "race"
    pairs = [sorted((a["op"], a["marked"]) for a in f.detail["accesses"]) for f in r.found]
    assert [("read", True), ("write", False)] in pairs
    assert any("marked read" in f.message for f in r.found)


def test_rmw_against_a_plain_read_races():
    def setup():
        c = Counter()

        def a():
            yield O.rmw(c, "count", lambda v: v + 1)

        def b():
            yield O.read(c, "count")
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b)], c)
    r = explore(Program(setup))
    assert r.verdict == "race"
    ops = sorted((x["op"], x["marked"]) for x in r.found[0].detail["accesses"])
    assert ops == [("read", False), ("rmw", True)]


def test_different_fields_do_not_race():
    def setup():
        c = Counter()

        def a():
            yield O.write(c, "count", 1)

        def b():
            yield O.write(c, "other", 1)
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b)], c)
    assert explore(Program(setup)).verdict == "ok"


def test_races_can_be_disabled():
    assert explore(increment(), races=False).verdict == "ok"


@pytest.mark.parametrize("strategy", ["source-dpor", "random", "pct", "bounded"])
def test_every_strategy_finds_the_race(strategy):
    r = explore(increment(), strategy=strategy, seed=0, runs=50)
    assert r.verdict == "race"


def test_race_counterexample_replays():
    r = explore(increment())
    f = r.found[0]
    again = replay(increment(), decode(encode(f.schedule)), record=True)
    assert any(v.signature == f.signature for v in again.ex.violations)
    # and not without the detector
    quiet = replay(increment(), f.schedule, record=True, races=False)
    assert not quiet.ex.violations


# -- happens-before edges ------------------------------------------------------------------

def test_completion_orders_data_and_the_broken_handshake_races():
    assert explore(toys.completion_handshake(), stop_on_first=False).verdict == "ok"
    r = explore(toys.completion_handshake(broken=True), stop_on_first=False)
    assert r.verdict == "race"
    kinds = sorted(f.kind for f in r.found)
    assert kinds == ["race", "warn"]
    race = next(f for f in r.found if f.kind == "race")
    assert race.detail["field"] == "Vars.x0 of vars"
    assert {a["thread"] for a in race.detail["accesses"]} == {"waiter", "signaller"}


def test_spawn_and_join_order_the_child():
    assert explore(toys.spawn_join(), stop_on_first=False).verdict == "ok"


def test_spawned_child_races_with_parent_before_join():
    def setup():
        c = Counter()

        def child():
            yield O.write(c, "count", 1)

        def parent():
            yield O.write(c, "count", 5)  # before the spawn: ordered
            ch = yield O.spawn(child, name="child")
            yield O.write(c, "count", 2)  # concurrent with the child's write
            yield O.join(ch)
        return Setup([ThreadSpec("parent", parent)], c)
    r = explore(Program(setup), stop_on_first=False)
    assert r.verdict == "race" and len(r.found) == 1
    lines = sorted(a["frames"][-1][0] for a in r.found[0].detail["accesses"])
    assert lines == ["child", "parent"]


def _rwsem_prog(reader_writes):
    def setup():
        c = Counter()
        s = RWSem("s")

        def reader():
            yield O.down_read(s)
            if reader_writes:
                yield O.write(c, "count", 1)
            else:
                yield O.read(c, "count")
            yield O.up_read(s)

        def writer():
            yield O.down_write(s)
            v = yield O.read(c, "count")
            yield O.write(c, "count", v + 10)
            yield O.up_write(s)
        return Setup([ThreadSpec("R1", reader), ThreadSpec("R2", reader), ThreadSpec("W", writer)], c)
    return Program(setup)


def test_rwsem_orders_readers_and_writers():
    assert explore(_rwsem_prog(False), stop_on_first=False).verdict == "ok"


def test_two_readers_writing_under_down_read_race():
    r = explore(_rwsem_prog(True), stop_on_first=False)
    assert r.verdict == "race"
    assert all({a["thread"] for a in f.detail["accesses"]} == {"R1", "R2"} for f in r.found)


def test_gate_drain_orders_the_holders_accesses():
    def setup(drain):
        c = Counter()
        g = Gate("active")

        def user():
            ok = yield O.gate_enter(g)
            if ok:
                yield O.write(c, "count", 1)
                yield O.gate_leave(g)

        def remover():
            if drain:
                yield O.gate_close(g)
            yield O.write(c, "count", 2)
        return Setup([ThreadSpec("user", user), ThreadSpec("remover", remover)], c)
    assert explore(Program(lambda: setup(True)), stop_on_first=False).verdict == "ok"
    assert explore(Program(lambda: setup(False)), stop_on_first=False).verdict == "race"


def test_trylock_success_synchronises_and_failure_does_not():
    def setup():
        c = Counter()
        m = Mutex("m")

        def a():
            yield O.lock(m)
            yield O.write(c, "count", 1)
            yield O.unlock(m)

        def b():
            ok = yield O.trylock(m)
            if ok:
                yield O.read(c, "count")
                yield O.unlock(m)
            else:
                yield O.read(c, "other")
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b)], c)
    assert explore(Program(setup), stop_on_first=False).verdict == "ok"


def test_completion_wait_without_complete_is_no_edge():
    def setup():
        c = Counter()
        done = Completion("done")

        def a():
            yield O.write(c, "count", 1)
            yield O.complete(done)

        def b():
            ok = yield O.try_wait_for_completion(done)
            yield O.read(c, "count")  # ordered only when the try-wait succeeded
            return ok
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b)], c)
    r = explore(Program(setup), stop_on_first=False)
    assert r.verdict == "race"  # the failed try-wait leaves the read concurrent


def test_an_unbalanced_unlock_keeps_what_the_last_unlock_released():
    """A writes under the lock; C unlocks the lock it does not hold (a warn); B then takes the
    lock and reads.  B's read is ordered after A's write by A's unlock: the bad unlock must
    not erase that edge (it used to overwrite the lock's clock: a false race)."""
    def setup():
        c = Counter()
        m = Mutex("m")

        def a():
            yield O.lock(m)
            yield O.write(c, "count", 1)
            yield O.unlock(m)

        def b():
            yield O.lock(m)
            yield O.read(c, "count")
            yield O.unlock(m)

        def bad():
            yield O.unlock(m)
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b), ThreadSpec("C", bad)], c)
    prog = Program(setup, name="bad-unlock-order")
    run = replay(prog, decode("p1:0x3.2.1x3"), stop_on_violation=False)
    kinds = [v.kind for v in run.ex.violations]
    assert kinds == ["warn"], [v.message for v in run.ex.violations]
    r = explore(prog, stop_on_first=False)
    assert sorted({f.kind for f in r.found}) == ["warn"], [f.message for f in r.found]
