"""Counterexample minimisation: the causal core, its renumbered threads, and the reordering
with fewest thread switches (pcilock.engine.minimize)."""

import randprog
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pcilock.engine import Budget, Found, Mutex, Program, Setup, ThreadSpec, explore, replay
from pcilock.engine import ops as O
from pcilock.engine.minimize import (
    _causal_core,
    causal_core,
    count_preemptions,
    fewest_switches,
    minimize,
    renumbered,
)


def _found(program, schedule):
    """The first violation of *schedule* replayed, as an explorer would report it."""
    r = replay(program, schedule, record=False, stop_on_violation=True)
    v = r.ex.violations[0]
    return Found(v.kind, v.message, v.signature, list(schedule), list(v.tids), dict(v.detail or {}))


def _reproduces(program, schedule, signature):
    r = replay(program, schedule, record=False, stop_on_violation=False)
    return any(v.signature == signature for v in r.ex.violations)


def spawned_abba():
    """T0 spawns an unrelated thread; T1 spawns K, which takes A then B; T2 takes B then A."""
    def setup():
        a, b, n = Mutex("A"), Mutex("B"), Mutex("N")

        def noise():
            yield O.lock(n)
            yield O.unlock(n)

        def t0():
            yield O.spawn(noise, name="N")

        def k():
            yield O.lock(a)
            yield O.lock(b)
            yield O.unlock(b)
            yield O.unlock(a)

        def t1():
            yield O.spawn(k, name="K")

        def t2():
            yield O.lock(b)
            yield O.lock(a)
            yield O.unlock(a)
            yield O.unlock(b)
        return Setup([ThreadSpec("T0", t0), ThreadSpec("T1", t1), ThreadSpec("T2", t2)])
    return Program(setup, name="spawned-abba")


def test_causal_core_renumbers_threads_spawned_after_a_dropped_spawn():
    prog = spawned_abba()
    # T0 spawns N (thread 3), T1 spawns K (thread 4), T2 takes B, K takes A: deadlock
    found = _found(prog, [(0, None), (1, None), (2, None), (4, None)])
    assert found.kind == "deadlock"
    core = causal_core(prog, found)
    # T0's spawn happens before nothing in the cycle: without it K is thread 3
    assert core == [(1, None), (2, None), (3, None)]
    assert _reproduces(prog, core, found.signature)
    sched, pre = minimize(prog, found)
    assert _reproduces(prog, sched, found.signature)
    assert len(sched) == 3 and pre == 1


def test_the_core_is_not_kept_when_dropping_steps_adds_a_preemption():
    """A writes x then a private field; B reads x and warns.  The explorer's schedule (A to
    its end, then B) has no preemption; the causal core drops A's private write, so its
    switch to B leaves A runnable: one preemption.  The schedule with fewer wins."""
    from pcilock.engine import Shared

    class W(Shared):
        _shared_ = {"x": 0, "mine": 0}

    def setup():
        w = W()
        object.__setattr__(w, "name", "w")

        def a():
            yield O.write(w, "x", 1, marked=True)
            yield O.write(w, "mine", 1)

        def b():
            x = yield O.read(w, "x", marked=True)
            yield O.check(x != 1, "x was written", kind="warn")
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b)], w)
    prog = Program(setup, name="dropped-tail")
    found = _found(prog, [(0, None), (0, None), (1, None)])
    core = causal_core(prog, found)
    assert core == [(0, None), (1, None)]
    assert count_preemptions(prog, found.schedule) == 0 and count_preemptions(prog, core) == 1
    sched, pre = minimize(prog, found)
    assert pre == 0 and sched == found.schedule


def interleaved_pairs(pairs):
    """*pairs* independent AB-BA pairs; the deadlock of the first pair is what is sought."""
    def setup():
        th = []
        for i in range(pairs):
            a, b = Mutex(f"A{i}"), Mutex(f"B{i}")

            def p(a=a, b=b):
                yield O.lock(a)
                yield O.lock(b)
                yield O.unlock(b)
                yield O.unlock(a)

            def q(a=a, b=b):
                yield O.lock(b)
                yield O.lock(a)
                yield O.unlock(a)
                yield O.unlock(b)
            th += [ThreadSpec(f"P{i}", p), ThreadSpec(f"Q{i}", q)]
        return Setup(th)
    return Program(setup, name=f"pairs-{pairs}")


def test_fewest_switches_keeps_happens_before_and_drops_preemptions():
    prog = Program(_chain_setup, name="chain")
    # round robin over three threads that each write their own field, then the last one
    # fails a check that reads what the other two wrote
    sched = [(0, None), (1, None), (2, None)] * 2 + [(2, None)]
    found = _found(prog, sched)
    assert found.kind == "warn"
    core, events, where, ninit = _causal_core(prog, found)
    order = fewest_switches(found.schedule, events, where)
    calm = renumbered(found.schedule, events, order, ninit)
    assert sorted(calm) == sorted(core)  # the same steps
    assert _reproduces(prog, calm, found.signature)
    assert count_preemptions(prog, core) == 3  # W0->W1, W1->C and C->W0 leave a runnable thread
    assert count_preemptions(prog, calm) == 0  # each thread runs to its end in turn
    sched_min, pre = minimize(prog, found)
    assert pre == 0 and _reproduces(prog, sched_min, found.signature)


def _chain_setup():
    from pcilock.engine import Shared

    class V(Shared):
        _shared_ = {"x0": 0, "x1": 0}

    v = V()
    object.__setattr__(v, "name", "v")

    def writer(i):
        yield O.write(v, f"x{i}", 1, marked=True)
        yield O.write(v, f"x{i}", 2, marked=True)

    def checker():
        yield O.schedule_point()
        x0 = yield O.read(v, "x0", marked=True)
        x1 = yield O.read(v, "x1", marked=True)
        yield O.check(not (x0 == 2 and x1 == 2), "both written twice", kind="warn")
    return Setup([ThreadSpec("W0", writer, (0,)), ThreadSpec("W1", writer, (1,)),
                  ThreadSpec("C", checker)], v)


def test_a_random_walk_counterexample_shrinks_to_its_cycle():
    """The random strategy meets the deadlock of pair 0 amid the steps of every other pair;
    the report keeps the two threads of the cycle, with one preemption."""
    prog = interleaved_pairs(6)
    r = explore(prog, "random", seed=3, budget=Budget(executions=50), record=False)
    assert r.verdict == "deadlock"
    f = r.found[0]
    assert f.preemptions == 1 and len(f.schedule) == 2
    assert _reproduces(prog, f.schedule, f.signature)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(randprog.programs, st.integers(0, 3))
def test_minimised_counterexamples_reproduce_with_no_more_preemptions(spec, seed):
    """On random programs: a violation found by a random walk, minimised, still gives the
    same violation, with no more preemptions than the walk's schedule; the causal core
    reproduces it, and its reordering replays step for step."""
    prog = randprog.build(spec)
    r = explore(prog, "random", seed=seed, budget=Budget(executions=20), stop_on_first=False,
                minimize_found=False, record=False)
    assume(r.found and r.verdict not in ("model-error",))
    for f in r.found:
        if f.kind == "hang":
            continue
        core, events, where, ninit = _causal_core(prog, f)
        assert _reproduces(prog, core, f.signature)
        if events is not None:
            # the reordering fits the program (every step runnable when it comes); it reaches
            # the same state, though not always the same report: which cycle of a deadlock is
            # reported first depends on the order the threads block in, and minimize() keeps
            # the reordering only when its replay gives the violation sought
            order = fewest_switches(f.schedule, events, where)
            assert order is not None and sorted(order) == sorted(where)
            calm = renumbered(f.schedule, events, order, ninit)
            assert len(replay(prog, calm, record=False, stop_on_violation=False).schedule) == len(calm)
        sched, pre = minimize(prog, f)
        assert _reproduces(prog, sched, f.signature)
        before = count_preemptions(prog, f.schedule)
        assert pre is not None and before is not None and pre <= before
