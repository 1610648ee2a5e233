"""Same program, strategy and seed: byte-identical results (trio's rule)."""

import pytest
import toys

from pcilock.engine import encode, explore


def _summary(r):
    return (r.verdict, r.exhaustive, r.stats.executions, r.stats.complete, r.stats.events,
            [(f.kind, f.message, encode(f.schedule), [(e.tid, e.text, e.stack) for e in f.trace.ex.trace])
             for f in r.found])


@pytest.mark.parametrize("strategy", ["dpor", "source-dpor", "random", "pct", "bounded"])
def test_same_seed_same_result(strategy):
    a = explore(toys.philosophers(4), strategy=strategy, seed=3, runs=300, stop_on_first=False)
    b = explore(toys.philosophers(4), strategy=strategy, seed=3, runs=300, stop_on_first=False)
    assert _summary(a) == _summary(b)


def test_different_seeds_sample_differently():
    a = explore(toys.lastzero(5), strategy="random", seed=1, runs=30, stop_on_first=False)
    b = explore(toys.lastzero(5), strategy="random", seed=2, runs=30, stop_on_first=False)
    assert a.stats.events != b.stats.events or a.stats.executions != b.stats.executions
