"""Every strategy behind one interface; sampling never claims ok."""

import pytest
import toys

from pcilock.engine import Budget, explore


@pytest.mark.parametrize("strategy", ["random", "pct", "bounded"])
def test_strategies_find_abba(strategy):
    r = explore(toys.abba(4), strategy=strategy, seed=0, runs=500)
    assert r.verdict == "deadlock"


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_sampling_is_never_ok(strategy):
    r = explore(toys.disjoint(3), strategy=strategy, seed=0, runs=20)
    assert r.verdict == "inconclusive" and not r.exhaustive and r.exit_code == 3


def test_bounded_covers_small_spaces():
    r = explore(toys.abba(0, fixed=True), strategy="bounded", max_bound=5)
    assert r.verdict == "ok" and r.exhaustive


def test_bounded_reports_bound_not_ok():
    # lastzero's plain accesses race by design: this is about the bound
    r = explore(toys.lastzero(4), strategy="bounded", max_bound=0, stop_on_first=False, races=False)
    assert r.verdict == "inconclusive"
    assert r.stats.stop_reason.value == "bound"


def test_pct_finds_depth_two_bug_quickly():
    r = explore(toys.abba(6), strategy="pct", pct_depth=2, seed=5, runs=200)
    assert r.verdict == "deadlock"
    assert r.stats.executions < 200


def test_time_budget_is_inconclusive():
    r = explore(toys.lastzero(10), budget=Budget(seconds=0.05), stop_on_first=False, races=False)
    assert r.verdict == "inconclusive" and r.stats.stop_reason.value == "budget"


def test_all_mode_reports_each_distinct_violation_once():
    r = explore(toys.philosophers(3), stop_on_first=False)
    assert [f.kind for f in r.found] == ["deadlock"]
