"""Toy programs with known answers (trace counts from the literature or the
naive enumerator; deadlocks with their minimal counterexamples)."""

import naive
import pytest
import toys

from pcilock.engine import Budget, decode, encode, explore
from pcilock.engine.dpor import DporExplorer
from pcilock.engine.optimal import OptimalDporExplorer

EXPLORERS = [OptimalDporExplorer, DporExplorer]


def run_all(prog, explorer=OptimalDporExplorer):
    return explorer(prog, stop_on_first=False).run()


@pytest.mark.parametrize("explorer", EXPLORERS)
@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_disjoint_threads_take_exactly_one_execution(explorer, k):
    r = run_all(toys.disjoint(k), explorer)
    assert r.verdict == "ok"
    assert r.exhaustive
    assert r.stats.executions == 1


@pytest.mark.parametrize("workers", [0, 1, 4, 8])
def test_abba_deadlock_found_and_minimal(workers):
    r = explore(toys.abba(workers))
    assert r.verdict == "deadlock"
    f = r.found[0]
    # the minimal counterexample: P takes A, Q takes B; nothing of the workers
    assert f.schedule == [(0, None), (1, None)]
    assert f.preemptions == 1
    assert encode(f.schedule) == "p1:0.1"
    names = [t.name for t in f.trace.ex.order]
    assert names[:2] == ["P", "Q"]
    assert {f.trace.ex.threads[t].name for t in f.tids} == {"P", "Q"}


@pytest.mark.parametrize("workers", [0, 3, 8])
def test_abba_exhaustive_executions_do_not_grow_with_workers(workers):
    r = run_all(toys.abba(workers))
    assert r.stats.executions == 3  # P first, Q first, and the deadlock
    assert [f.kind for f in r.found] == ["deadlock"]


def test_fixed_abba_is_ok():
    r = run_all(toys.abba(2, fixed=True))
    assert r.verdict == "ok" and r.exhaustive


@pytest.mark.parametrize("n", [3, 4, 5])
def test_dining_philosophers_deadlock(n):
    r = explore(toys.philosophers(n))
    assert r.verdict == "deadlock"
    assert len(r.found[0].tids) == n  # every philosopher is in the cycle


def test_dining_philosophers_traces_match_naive():
    prog = toys.philosophers(3)
    _n, traces, _o = naive.enumerate_all(prog)
    for explorer in EXPLORERS:
        r = run_all(prog, explorer)
        assert r.stats.complete == len(traces) == 7


@pytest.mark.parametrize("n", [4, 5])
def test_dining_philosophers_both_dpors_agree(n):
    a = run_all(toys.philosophers(n), OptimalDporExplorer)
    b = run_all(toys.philosophers(n), DporExplorer)
    assert a.stats.complete == b.stats.complete == 2 ** n - 1
    assert a.stats.sleep_blocked == 0


def test_rwsem_waiting_writer_blocks_recursive_reader():
    r = explore(toys.rwsem_recursive_read())
    assert r.verdict == "deadlock"
    f = r.found[0]
    # T1 read-holds, T2 queues for write, T1's second down_read waits behind T2
    ops = [e.text for e in f.trace.ex.trace]
    assert ops == ["down_read(sem)", "down_write(sem)"]
    assert sorted(f.trace.ex.threads[t].name for t in f.tids) == ["T1", "T2"]


@pytest.mark.parametrize("n,expected", [(3, 12), (4, 28), (5, 64), (6, 144), (7, 320)])
def test_lastzero_trace_counts(n, expected):
    # (n + 3) * 2^(n-2); n = 3 checked against the naive enumerator below
    for explorer in EXPLORERS:
        assert run_all(toys.lastzero(n), explorer).stats.complete == expected
    assert run_all(toys.lastzero(n)).stats.sleep_blocked == 0


def test_lastzero_3_matches_naive():
    _n, traces, _o = naive.enumerate_all(toys.lastzero(3))
    assert len(traces) == 12


@pytest.mark.parametrize("n,expected", [(11, 1), (12, 8), (13, 64), (14, 512)])
def test_indexer_trace_counts(n, expected):
    # Flanagan and Godefroid's indexer: collisions start at 12 threads (8, 64, 512, 4096 traces)
    r = run_all(toys.indexer(n))
    assert r.stats.complete == expected
    assert r.stats.executions == expected  # optimal: no redundant execution


@pytest.mark.parametrize("r_,w", [(1, 1), (2, 2), (3, 2), (2, 3)])
def test_readers_writers_trace_counts(r_, w):
    # w! orders of the writes, each read independently before/between/after them
    import math
    expected = math.factorial(w) * (w + 1) ** r_
    for explorer in EXPLORERS:
        assert run_all(toys.readers_writers(r_, w), explorer).stats.complete == expected


def test_readers_writers_match_naive():
    _n, traces, _o = naive.enumerate_all(toys.readers_writers(2, 2))
    assert len(traces) == 18


def test_spawn_join_happens_before():
    r = run_all(toys.spawn_join())
    assert r.verdict == "ok" and r.exhaustive


def test_completion_orders_data():
    assert run_all(toys.completion_handshake()).verdict == "ok"
    # the broken handshake is also a data race on x0 (tests/detectors); the check alone:
    r = explore(toys.completion_handshake(broken=True), races=False)
    assert r.verdict == "warn"
    assert "data not ready" in r.found[0].message


def test_trylock_outcomes_are_all_explored():
    outcomes = set()

    def on_complete(ex, tracker):
        outcomes.add((ex.world.peek("x1"), ex.world.peek("x2")))

    OptimalDporExplorer(toys.trylock_retry(), stop_on_first=False, on_complete=on_complete).run()
    # B's trylock: fails while A holds m; succeeds before A (x0 = 0) or after it (x0 = 1)
    assert outcomes == {(0, 1), (10, 0), (11, 0)}


def test_choice_values_are_all_explored():
    r = explore(toys.choice_program(), races=False)  # A's write and B's read of x0 race, too
    assert r.verdict == "warn"
    assert decode(encode(r.found[0].schedule)) == r.found[0].schedule
    assert any(c == 2 for _t, c in r.found[0].schedule)


def test_budget_exhaustion_is_inconclusive_never_ok():
    # lastzero's plain accesses race by design: this is about the budget
    r = explore(toys.lastzero(8), budget=Budget(executions=5), stop_on_first=False, races=False)
    assert r.verdict == "inconclusive"
    assert not r.exhaustive
    assert r.stats.stop_reason.value == "budget"
    assert r.exit_code == 3
