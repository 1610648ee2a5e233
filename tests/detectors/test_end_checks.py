"""WARN_ON-style checks, lockdep_assert_held, and locks held when a task exits."""

import pytest
import toys

from pcilock.engine import Gate, Mutex, Program, RWSem, ThreadSpec, explore
from pcilock.engine import ops as O


def _one(fn, *objs):
    return Program(lambda: [ThreadSpec("T", fn, tuple(o() for o in objs))], name="one")


def test_failed_check_is_a_warn_with_its_stack():
    def helper():
        yield O.check(False, "WARN_ON(dev->is_added)")

    def t():
        yield O.schedule_point()
        yield from helper()
    r = explore(_one(t))
    assert r.verdict == "warn"
    f = r.found[0]
    assert f.message == "WARN_ON(dev->is_added)"
    assert [fr[0] for fr in f.detail["frames"]] == ["t", "helper"]


def test_assert_held_is_a_warn_with_its_stack():
    def t(m):
        yield O.schedule_point()
        yield O.assert_held(m)
    r = explore(_one(t, lambda: Mutex("pci_rescan_remove_lock")))
    assert r.verdict == "warn"
    f = r.found[0]
    assert "lockdep_assert_held(pci_rescan_remove_lock)" in f.message
    assert f.detail["frames"][-1][0] == "t"


def test_assert_held_passes_when_held():
    def t(m):
        yield O.lock(m)
        yield O.assert_held(m)
        yield O.unlock(m)
    assert explore(_one(t, lambda: Mutex("m"))).verdict == "ok"


@pytest.mark.parametrize("kind", ["mutex", "rwsem-read", "rwsem-write", "gate"])
def test_exit_holding_a_lock_is_a_warn(kind):
    def t(o):
        if kind == "mutex":
            yield O.lock(o)
        elif kind == "rwsem-read":
            yield O.down_read(o)
        elif kind == "rwsem-write":
            yield O.down_write(o)
        else:
            yield O.gate_enter(o)
    make = {"mutex": lambda: Mutex("L"), "gate": lambda: Gate("L")}.get(kind, lambda: RWSem("L"))
    r = explore(_one(t, make))
    assert r.verdict == "warn"
    f = r.found[0]
    assert f.message == "task T exited holding lock L"
    # the stack where the lock was taken, from the traced replay
    assert f.detail["frames"][-1][0] == "t"
    assert f.detail["held"][0]["lock"] == "L"


def test_exit_after_release_is_fine_and_fatal_check_keeps_locks_silently():
    def ok(m):
        yield O.lock(m)
        yield O.unlock(m)
    assert explore(_one(ok, lambda: Mutex("m"))).verdict == "ok"

    def bug_on(m):
        yield O.lock(m)
        yield O.check(False, "BUG_ON(x)", fatal=True)
        yield O.unlock(m)
    r = explore(_one(bug_on, lambda: Mutex("m")), stop_on_first=False)
    assert [f.message for f in r.found] == ["BUG_ON(x)"]


def test_exit_holding_reports_every_lock_once():
    def setup():
        a, b = Mutex("A"), Mutex("B")

        def t():
            yield O.lock(a)
            yield O.lock(b)
            yield O.unlock(a)
            yield O.lock(a)
        return [ThreadSpec("T1", t), ThreadSpec("T2", t)]
    r = explore(Program(setup), stop_on_first=False)
    msgs = sorted(f.message for f in r.found if f.kind == "warn")
    # one signature (thread function and locks), whichever thread gets there first;
    # the other thread then blocks forever on B
    assert msgs == ["task T1 exited holding locks B, A"] or msgs == ["task T2 exited holding locks B, A"]
    assert "hang" in [f.kind for f in r.found]


@pytest.mark.parametrize("prog", [toys.abba(2, fixed=True), toys.disjoint(3), toys.spawn_join(),
                                  toys.trylock_retry(), toys.rwsem_recursive_read(), toys.indexer(12)],
                         ids=lambda p: p.name)
def test_toys_release_everything(prog):
    r = explore(prog, stop_on_first=False, races=False)
    assert "warn" not in [f.kind for f in r.found]
