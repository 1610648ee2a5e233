"""Lock-order graph: cycles across executions, lockdep visibility, JSON shape."""

import json

import pytest

from pcilock.engine import Gate, Mutex, Program, RWSem, ThreadSpec, explore
from pcilock.engine import ops as O
from pcilock.engine.lockgraph import LockGraph


def _prog(make_threads):
    return Program(lambda: make_threads(), name="lockgraph-toy")


def gated_abba(a_kw=None, b_kw=None, outer=True):
    """P takes A then B, Q takes B then A, both inside an outer lock G (no deadlock possible)."""
    def setup():
        G = Mutex("G")
        A = Mutex("A", **(a_kw or {}))
        B = Mutex("B", **(b_kw or {}))

        def p():
            if outer:
                yield O.lock(G)
            yield O.lock(A)
            yield O.lock(B)
            yield O.unlock(B)
            yield O.unlock(A)
            if outer:
                yield O.unlock(G)

        def q():
            if outer:
                yield O.lock(G)
            yield O.lock(B)
            yield O.lock(A)
            yield O.unlock(A)
            yield O.unlock(B)
            if outer:
                yield O.unlock(G)
        return [ThreadSpec("P", p), ThreadSpec("Q", q)]
    return _prog(setup)


def _cycles(r):
    return r.lock_graph.to_json()["cycles"]


def test_abba_under_an_outer_lock_is_a_cycle_without_a_deadlock():
    r = explore(gated_abba(), strategy="random", seed=1, runs=30)
    assert r.verdict == "inconclusive"  # random never claims ok, and no deadlock was seen
    assert not r.found
    cyc = _cycles(r)
    assert len(cyc) == 1
    c = cyc[0]
    # a cycle starts at the lock seen first in the exploration (here: Q ran first)
    assert sorted(c["locks"]) == ["A", "B"]
    assert c["classes"] == c["locks"]
    assert c["lockdep_visible"] is True
    held_acq = [(ch["held"], ch["acquired"], ch["thread"]) for ch in c["chains"]]
    assert sorted(held_acq) == [("A", "B", "P"), ("B", "A", "Q")]
    # chain i holds locks[i] and acquires locks[i + 1]
    assert [ch["held"] for ch in c["chains"]] == c["locks"]
    for ch in c["chains"]:
        for frames in (ch["held_stack"], ch["acquired_stack"]):
            func, path, line = frames[-1]
            assert func == ch["thread"].lower() and path.endswith("test_lockgraph.py") and line > 0
        # the held lock was taken on an earlier line of the thread function
        assert ch["held_stack"][-1][2] < ch["acquired_stack"][-1][2]


def test_outer_lock_really_prevents_the_deadlock_and_dpor_agrees():
    r = explore(gated_abba())
    assert r.verdict == "ok" and r.exhaustive
    assert [c["locks"] for c in _cycles(r)] == [["A", "B"]]
    # without the outer lock the cycle is a real deadlock
    assert explore(gated_abba(outer=False)).verdict == "deadlock"


def test_novalidate_lock_makes_the_cycle_invisible_to_lockdep():
    r = explore(gated_abba(b_kw={"validate": False}), strategy="random", seed=1, runs=30)
    cyc = _cycles(r)
    assert len(cyc) == 1 and cyc[0]["lockdep_visible"] is False


def test_same_class_same_subclass_is_recursive_locking_not_a_cycle_for_lockdep():
    r = explore(gated_abba(a_kw={"lock_class": "dev"}, b_kw={"lock_class": "dev"}))
    cyc = _cycles(r)
    assert len(cyc) == 1
    assert cyc[0]["classes"] == ["dev", "dev"]
    assert cyc[0]["lockdep_visible"] is False


def _rw_abba(sub_p=(0, 0), sub_q=(0, 0), classes=("X", "Y")):
    def setup():
        A = RWSem("A", lock_class=classes[0])
        B = RWSem("B", lock_class=classes[1])

        def p():
            yield O.down_write(A, sub_p[0])
            yield O.down_write(B, sub_p[1])
            yield O.up_write(B)
            yield O.up_write(A)

        def q():
            yield O.down_write(B, sub_q[0])
            yield O.down_write(A, sub_q[1])
            yield O.up_write(A)
            yield O.up_write(B)
        return [ThreadSpec("P", p), ThreadSpec("Q", q)]
    return _prog(setup)


@pytest.mark.parametrize("sub_p,sub_q,classes,visible", [
    ((0, 0), (0, 0), ("X", "Y"), True),  # two classes: lockdep reports the cycle
    ((0, 1), (0, 1), ("X", "X"), False),  # nested annotation on one class hides the inversion
    ((0, 1), (1, 0), ("X", "X"), True),  # subclasses line up: (X,0)->(X,1)->(X,0)
    ((0, 0), (0, 0), ("X", "X"), False),  # same key: recursive locking, not this cycle
])
def test_subclasses_decide_the_class_level_cycle(sub_p, sub_q, classes, visible):
    r = explore(_rw_abba(sub_p, sub_q, classes), stop_on_first=False)
    assert r.verdict == "deadlock"  # the instance-level cycle is real either way
    cyc = _cycles(r)
    assert len(cyc) == 1
    assert cyc[0]["lockdep_visible"] is visible


def test_trylock_cannot_close_a_cycle():
    def setup():
        A = Mutex("A")
        B = Mutex("B")

        def p():
            yield O.lock(A)
            yield O.lock(B)
            yield O.unlock(B)
            yield O.unlock(A)

        def q():
            yield O.lock(B)
            ok = yield O.trylock(A)
            if ok:
                yield O.unlock(A)
            yield O.unlock(B)
        return [ThreadSpec("P", p), ThreadSpec("Q", q)]
    r = explore(_prog(setup))
    assert r.verdict == "ok"
    g = r.lock_graph.to_json()
    assert g["edges"] == 2  # A->B, and B->A taken by trylock
    assert g["cycles"] == []


def _read_read(writer):
    def setup():
        R1 = RWSem("R1")
        R2 = RWSem("R2")

        def p():
            yield O.down_read(R1)
            yield O.down_read(R2)
            yield O.up_read(R2)
            yield O.up_read(R1)

        def q():
            yield O.down_read(R2)
            yield O.down_read(R1)
            yield O.up_read(R1)
            yield O.up_read(R2)

        def w(s):
            yield O.down_write(s)
            yield O.up_write(s)
        th = [ThreadSpec("P", p), ThreadSpec("Q", q)]
        if writer:
            th += [ThreadSpec("W1", w, (R1,)), ThreadSpec("W2", w, (R2,))]
        return th
    return _prog(setup)


def test_read_read_cycle_without_writers_cannot_block():
    r = explore(_read_read(writer=False))
    assert r.verdict == "ok"
    assert r.lock_graph.to_json()["edges"] == 2
    assert _cycles(r) == []


def test_read_read_cycle_with_queued_writers_is_a_potential_deadlock():
    r = explore(_read_read(writer=True), stop_on_first=False)
    # the writer-preferring rwsem really deadlocks: P and Q each wait behind a queued writer
    assert r.verdict == "deadlock"
    cyc = _cycles(r)
    assert [c["locks"] for c in cyc] == [["R1", "R2"]]
    assert cyc[0]["lockdep_visible"] is True


def test_kernfs_active_reference_against_a_mutex():
    """gate_enter then lock(M) in one thread, lock(M) then gate_close in the other."""
    def setup(validate=True):
        G = Gate("kn->active", validate=validate)
        M = Mutex("M")

        def show():
            ok = yield O.gate_enter(G)
            if ok:
                yield O.lock(M)
                yield O.unlock(M)
                yield O.gate_leave(G)

        def remove():
            yield O.lock(M)
            yield O.gate_close(G)
            yield O.unlock(M)
        return [ThreadSpec("show", show), ThreadSpec("remove", remove)]
    r = explore(Program(setup), stop_on_first=False)
    assert r.verdict == "deadlock"
    cyc = _cycles(r)
    assert [c["locks"] for c in cyc] == [["kn->active", "M"]]
    assert cyc[0]["lockdep_visible"] is True
    chains = {(c["held"], c["acquired"]): c["thread"] for c in cyc[0]["chains"]}
    assert chains == {("kn->active", "M"): "show", ("M", "kn->active"): "remove"}
    r2 = explore(Program(lambda: setup(validate=False)), stop_on_first=False)
    assert _cycles(r2)[0]["lockdep_visible"] is False


def test_json_shape_and_determinism():
    a = explore(gated_abba(), strategy="random", seed=3, runs=20).lock_graph.to_json()
    b = explore(gated_abba(), strategy="random", seed=3, runs=20).lock_graph.to_json()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert set(a) == {"cycles", "edges", "locks", "edge_list"} and isinstance(a["edges"], int)
    assert a["edges"] == 4  # G->A, G->B, A->B, B->A
    assert sorted((e["held"], e["acquired"]) for e in a["edge_list"]) == [("A", "B"), ("B", "A"), ("G", "A"),
                                                                           ("G", "B")]
    for e in a["edge_list"]:
        assert set(e) == {"held", "acquired", "functions", "threads", "trylock"} and not e["trylock"]
    by = {(e["held"], e["acquired"]): e for e in a["edge_list"]}
    assert (by[("A", "B")]["functions"], by[("A", "B")]["threads"]) == (["p"], ["P"])
    assert (by[("B", "A")]["functions"], by[("B", "A")]["threads"]) == (["q"], ["Q"])
    assert sorted(by[("G", "A")]["threads"]) == ["P", "Q"]
    assert sorted(x["name"] for x in a["locks"]) == ["A", "B", "G"]
    for c in a["cycles"]:
        assert set(c) == {"locks", "classes", "lockdep_visible", "deadlock_possible", "chains"}
        assert len(c["chains"]) == len(c["locks"]) == len(c["classes"])
        for ch in c["chains"]:
            assert set(ch) == {"held", "acquired", "thread", "threads", "held_stack", "acquired_stack"}
            for fr in ch["held_stack"] + ch["acquired_stack"]:
                assert isinstance(fr, list) and len(fr) == 3
    json.dumps(a)  # serialisable as is


def test_lock_graph_can_be_disabled_or_supplied():
    assert explore(gated_abba(), lock_graph=False).lock_graph is None
    g = LockGraph(max_cycle_len=2)
    r = explore(gated_abba(), lock_graph=g)
    assert r.lock_graph is g and len(g.cycles()) == 1


def test_three_lock_cycle_and_length_bound():
    def setup():
        L = [Mutex(f"L{i}") for i in range(3)]

        def t(i):
            a, b = L[i], L[(i + 1) % 3]
            yield O.lock(a)
            yield O.lock(b)
            yield O.unlock(b)
            yield O.unlock(a)
        return [ThreadSpec(f"T{i}", t, (i,)) for i in range(3)]
    r = explore(Program(setup), stop_on_first=False)
    assert [c["locks"] for c in _cycles(r)] == [["L0", "L1", "L2"]]
    short = explore(Program(setup), stop_on_first=False, lock_graph=LockGraph(max_cycle_len=2))
    assert _cycles(short) == []


def _abba_rwsem_writer():
    """P: lock(A), down_write(S); Q: down_read(S), lock(A): the closing waits never finish."""
    def setup():
        A, S = Mutex("A"), RWSem("S")

        def p():
            yield O.lock(A)
            yield O.schedule_point()
            yield O.down_write(S)
            yield O.up_write(S)
            yield O.unlock(A)

        def q():
            yield O.down_read(S)
            yield O.schedule_point()
            yield O.lock(A)
            yield O.unlock(A)
            yield O.up_read(S)
        return [ThreadSpec("P", p), ThreadSpec("Q", q)]
    return _prog(setup)


def test_a_deadlocked_execution_alone_shows_its_cycle_as_lockdep_would():
    """Lockdep adds a dependency when an acquisition is attempted, before the task waits, so
    the one execution that deadlocks is enough to see the cycle: both closing edges are
    waits that never finish (a mutex and a queued rwsem writer)."""
    for seed in range(20):
        r = explore(_abba_rwsem_writer(), strategy="random", seed=seed, runs=1)
        if r.verdict == "deadlock":
            break
    else:
        pytest.fail("no seed deadlocked in one execution")
    assert r.stats.executions == 1
    (c,) = _cycles(r)
    assert sorted(c["locks"]) == ["A", "S"]
    modes = {(ch["held"], ch["acquired"]) for ch in c["chains"]}
    assert modes == {("A", "S"), ("S", "A")}


def _one_task_both_orders():
    """One task takes A then B, later B then A (pciehp's IRQ thread with reset_lock and
    pci_rescan_remove_lock after f5eff5591b8f); another task takes only A."""
    def setup():
        A, B = Mutex("A"), Mutex("B")

        def ist():
            yield O.lock(A)
            yield O.lock(B)
            yield O.unlock(A)
            yield O.lock(A)
            yield O.unlock(A)
            yield O.unlock(B)

        def other():
            yield O.lock(A)
            yield O.unlock(A)
        return [ThreadSpec("ist", ist), ThreadSpec("other", other)]
    return _prog(setup)


def test_a_cycle_only_one_task_closes_is_a_lockdep_false_positive_not_a_deadlock():
    r = explore(_one_task_both_orders())
    assert r.verdict == "ok" and r.exhaustive
    (c,) = _cycles(r)
    assert c["lockdep_visible"] is True and c["deadlock_possible"] is False
    assert {ch["thread"] for ch in c["chains"]} == {"ist"}


def test_the_same_cycle_taken_by_two_tasks_can_deadlock():
    r = explore(gated_abba(), strategy="random", seed=1, runs=30)
    (c,) = _cycles(r)
    assert c["deadlock_possible"] is True
    assert {ch["thread"] for ch in c["chains"]} == {"P", "Q"}
