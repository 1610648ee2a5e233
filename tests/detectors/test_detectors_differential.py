"""DPOR against the naive enumerator on random programs that free objects and race.

``free`` is the one operation touching several objects (every field of the
freed object and the locks it owns); this checks that both DPOR explorers still
cover exactly the Mazurkiewicz traces of all interleavings with it, and that
they find the same violations as the enumerator, compared by signature for
the detectors (races, use after free, exit holding a lock, checks).
"""

import os

import naive
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_differential import dpor_traces  # noqa: F401  (same harness as the engine test)

from pcilock.engine import Mutex, Program, Setup, Shared, ThreadSpec
from pcilock.engine import ops as O
from pcilock.engine.dpor import DporExplorer
from pcilock.engine.optimal import OptimalDporExplorer


class Obj(Shared):
    _shared_ = {"a": 0, "b": 0}
    _owns_ = ("om",)

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "name", "obj")
        object.__setattr__(self, "om", Mutex("obj.om"))


class G(Shared):
    _shared_ = {"x": 0}

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "name", "g")


def _leaf():
    return st.one_of(
        st.tuples(st.just("read"), st.sampled_from(["a", "b"]), st.booleans()),
        st.tuples(st.just("write"), st.sampled_from(["a", "b"]), st.booleans()),
        st.tuples(st.just("free")),
        st.tuples(st.just("gx"), st.booleans()),
        st.tuples(st.just("choose")),
    )


def _block(depth):
    if depth == 0:
        return st.lists(_leaf(), min_size=0, max_size=2)
    inner = _block(depth - 1)
    return st.lists(st.one_of(
        _leaf(),
        st.tuples(st.just("olock"), inner),
        st.tuples(st.just("lock"), inner),
        st.tuples(st.just("if"), inner),
    ), min_size=1, max_size=3)


programs = st.lists(_block(1), min_size=2, max_size=3)


def build(spec):
    def setup():
        o = Obj()
        g = G()
        m = Mutex("m")

        def run(block):
            for ins in block:
                k = ins[0]
                if k == "read":
                    yield O.read(o, ins[1], marked=ins[2])
                elif k == "write":
                    yield O.write(o, ins[1], 1, marked=ins[2])
                elif k == "free":
                    yield O.free(o)
                elif k == "gx":
                    yield O.write(g, "x", 1, marked=ins[1])
                elif k == "choose":
                    c = yield O.choose(2)
                    yield O.write(g, "x", c, marked=True)
                elif k == "olock":
                    yield O.lock(o.om)
                    yield from run(ins[1])
                    yield O.unlock(o.om)
                elif k == "lock":
                    yield O.lock(m)
                    yield from run(ins[1])
                    yield O.unlock(m)
                elif k == "if":
                    v = yield O.read(g, "x", marked=True)
                    if v == 0:
                        yield from run(ins[1])
        return Setup([ThreadSpec(f"T{i}", run, (b,)) for i, b in enumerate(spec)], g)
    return Program(setup, name="random-free")


def _sigs(ex):
    out = {v.kind for v in ex.violations}
    out |= {v.signature for v in ex.violations if v.kind not in ("deadlock", "hang")}
    return frozenset(out)


def _enumerate(prog, limit):
    signatures = set()
    orig = naive.outcome

    def outcome(ex, final_state=None):
        signatures.add(_sigs(ex))
        return orig(ex, final_state)
    naive.outcome = outcome
    try:
        _n, traces, _o = naive.enumerate_all(prog, limit=limit)
    finally:
        naive.outcome = orig
    return traces, signatures


@settings(max_examples=int(os.environ.get("PCILOCK_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_dpor_with_free_covers_all_traces_and_violations(spec):
    prog = build(spec)
    try:
        ntraces, nsigs = _enumerate(prog, 1500)
    except RuntimeError:
        assume(False)
    for explorer in (DporExplorer, OptimalDporExplorer):
        traces = []
        sigs = set()

        logs = []

        def on_complete(ex, tracker, traces=traces, sigs=sigs, logs=logs):
            traces.append(naive.trace_signature(tracker, logs[-1], ex))
            sigs.add(_sigs(ex))

        def observers(logs=logs):
            log = naive._Log()
            logs.append(log)
            return [log]
        explorer(prog, stop_on_first=False, observers=observers, on_complete=on_complete).run()
        assert len(traces) == len(set(traces)), f"{explorer.__name__}: a trace was explored twice"
        assert set(traces) == ntraces, explorer.__name__
        assert sigs == nsigs, explorer.__name__


def _findings(r):
    return (r.verdict, r.stats.executions, r.stats.complete, r.stats.events,
            [(f.kind, f.message, f.signature, f.schedule, f.tids, f.execution) for f in r.found])


@settings(max_examples=int(os.environ.get("PCILOCK_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_skipping_known_races_changes_no_finding(spec):
    """Explorers do not look for races again in a replayed prefix, nor report a race whose
    signature they collected before (``skip_known_races``, the default without a per-execution
    hook).  Every finding, its schedule, message and execution number, and every count must
    be what the explorer gives when each execution reports all its races."""
    prog = build(spec)
    for explorer in (DporExplorer, OptimalDporExplorer):
        fast = explorer(prog, stop_on_first=False)
        assert fast.skip_known_races
        full = explorer(prog, stop_on_first=False)
        full.skip_known_races = False
        assert _findings(fast.run()) == _findings(full.run()), explorer.__name__


def test_skipping_known_races_does_skip():
    """The shortcut is taken: the race of the first execution is met again in the second
    (the other order of the two writes) and is not in that execution's list of violations."""
    def setup():
        g = G()

        def t(v):
            yield O.write(g, "x", v)
        return Setup([ThreadSpec("A", t, (1,)), ThreadSpec("B", t, (2,))], g)
    prog = Program(setup)
    for explorer in (DporExplorer, OptimalDporExplorer):
        counts = {}
        for skip in (True, False):
            per_execution = []

            def on_complete(ex, tracker, per_execution=per_execution):
                per_execution.append(sum(v.kind == "race" for v in ex.violations))
            x = explorer(prog, stop_on_first=False, on_complete=on_complete)
            x.skip_known_races = skip
            r = x.run()
            assert [f.kind for f in r.found] == ["race"], explorer.__name__
            counts[skip] = per_execution
        assert counts == {True: [1, 0], False: [1, 1]}, explorer.__name__


def _module_from(path, name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_identical_functions_in_two_files_are_two_locations(tmp_path):
    """Code objects compare equal without regard to their file: a copy of a helper in
    another file must still give its own race signature, with or without the shortcut."""
    text = "from pcilock.engine import ops as O\n\n\ndef poke(g, v):\n    yield O.write(g, 'x', v)\n"
    mods = []
    for name in ("copy_a", "copy_b"):
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        mods.append(_module_from(path, f"pcilock_test_{name}"))
    a, b = mods
    assert a.poke.__code__ == b.poke.__code__  # what the engine must not be fooled by

    def setup():
        g = G()
        return Setup([ThreadSpec("A1", a.poke, (g, 1)), ThreadSpec("A2", a.poke, (g, 2)),
                      ThreadSpec("B", b.poke, (g, 3))], g)
    prog = Program(setup)
    for explorer in (DporExplorer, OptimalDporExplorer):
        found = {}
        for skip in (True, False):
            x = explorer(prog, stop_on_first=False)
            x.skip_known_races = skip
            found[skip] = sorted((f.signature[2][1].rsplit("/", 1)[-1], f.signature[3][1].rsplit("/", 1)[-1])
                                 for f in x.run().found)
        assert found[True] == found[False] == [("copy_a.py", "copy_a.py"), ("copy_a.py", "copy_b.py")], \
            explorer.__name__


def test_free_is_dependent_with_later_uses_only_through_its_object():
    """A hand-written case: the use after free needs free and read reordered."""
    def setup():
        o = Obj()
        g = G()

        def a():
            yield O.write(g, "x", 1)
            yield O.free(o)

        def b():
            yield O.read(o, "a", marked=True)
            yield O.lock(o.om)
            yield O.unlock(o.om)
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b)], g)
    prog = Program(setup)
    ntraces, nsigs = _enumerate(prog, 1000)
    kinds = set().union(*nsigs)
    assert "uaf" in kinds
    for explorer in (DporExplorer, OptimalDporExplorer):
        r = explorer(prog, stop_on_first=False).run()
        assert r.stats.complete == len(ntraces) == 4  # free before each of B's 3 steps, or after
        assert sorted(f.detail["use"]["op"] for f in r.found) == ["lock", "read", "unlock"]
