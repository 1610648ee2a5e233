"""``--all`` (stop_on_first=False): every distinct violation, each minimised and traced."""

import pytest

from pcilock.engine import Mutex, Program, Setup, Shared, ThreadSpec, encode, explore, replay
from pcilock.engine import ops as O


class State(Shared):
    _shared_ = {"flag": 0, "data": 0}

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "name", "st")


def two_bugs(workers=0):
    """An AB-BA deadlock between P and Q, and an unrelated failed check in R/S."""
    def setup():
        A, B = Mutex("A"), Mutex("B")
        st = State()

        def p():
            yield O.lock(A)
            yield O.lock(B)
            yield O.unlock(B)
            yield O.unlock(A)

        def q():
            yield O.lock(B)
            yield O.lock(A)
            yield O.unlock(A)
            yield O.unlock(B)

        def r():
            yield O.write(st, "flag", 1, marked=True)

        def s():
            f = yield O.read(st, "flag", marked=True)
            yield O.check(f == 0, "flag set too early")

        def w(m):
            yield O.lock(m)
            yield O.unlock(m)
        th = [ThreadSpec("P", p), ThreadSpec("Q", q), ThreadSpec("R", r), ThreadSpec("S", s)]
        th += [ThreadSpec(f"W{i}", w, (Mutex(f"m{i}"),)) for i in range(workers)]
        return Setup(th, st)
    return Program(setup, name="two-bugs")


@pytest.mark.parametrize("strategy", ["dpor", "source-dpor", "bounded", "random"])
def test_all_returns_both_bugs(strategy):
    r = explore(two_bugs(), strategy=strategy, stop_on_first=False, seed=0, runs=200)
    assert sorted(f.kind for f in r.found) == ["deadlock", "warn"]
    assert r.verdict == "deadlock"  # the most severe kind
    for f in r.found:
        assert f.trace is not None
        assert any(v.signature == f.signature for v in f.trace.ex.violations)
        again = replay(two_bugs(), f.schedule, record=False)
        assert any(v.signature == f.signature for v in again.ex.violations)


def test_all_counterexamples_are_minimised():
    r = explore(two_bugs(workers=3), stop_on_first=False)
    by_kind = {f.kind: f for f in r.found}
    # the deadlock needs only P and Q, one step each; the warn only R then S
    assert encode(by_kind["deadlock"].schedule) == "p1:0.1"
    names = by_kind["warn"].trace.ex.order
    assert [names[t].name for t, _c in by_kind["warn"].schedule] == ["R", "S"]
    assert all(f.preemptions is not None for f in r.found)


def test_first_only_stops_at_one():
    r = explore(two_bugs())
    assert len(r.found) == 1


def test_verdict_prefers_uaf_over_race_over_warn():
    class Obj(Shared):
        _shared_ = {"x": 0}

    def setup():
        o = Obj()
        c = State()

        def freer():
            yield O.free(o)

        def user():
            yield O.read(o, "x", marked=True)

        def racer():
            yield O.write(c, "data", 1)

        def racer2():
            yield O.write(c, "data", 2)
            yield O.check(False, "always")
        th = [ThreadSpec("F", freer), ThreadSpec("U", user), ThreadSpec("R1", racer),
              ThreadSpec("R2", racer2)]
        return Setup(th, o)
    r = explore(Program(setup), stop_on_first=False)
    assert sorted(f.kind for f in r.found) == ["race", "uaf", "warn"]
    assert r.verdict == "uaf"
