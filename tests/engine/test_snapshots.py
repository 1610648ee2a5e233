"""Call-chain snapshots (races.snap_thread): the stacks that race reports and lock-order
edges show for an access made in the past.  A snapshot reuses the cells of the thread's
previous one; at every step it must give the frames a fresh walk of the generator chain
gives."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pcilock.engine import Mutex, Program, Setup, Shared, ThreadSpec
from pcilock.engine import ops as O
from pcilock.engine.execution import Execution, frames_of
from pcilock.engine.races import _snap, frames_of_snap, snap_thread


class V(Shared):
    _shared_ = {"x": 0}


def _calls(depth):
    if depth == 0:
        return st.lists(st.sampled_from(["read", "write", "lock"]), min_size=1, max_size=3)
    inner = _calls(depth - 1)
    return st.lists(st.one_of(st.sampled_from(["read", "write", "lock"]), inner), min_size=1,
                    max_size=3)


def build(spec):
    def setup():
        v = V()
        object.__setattr__(v, "name", "v")
        m = Mutex("m")

        def body(block):
            for ins in block:
                if ins == "read":
                    yield O.read(v, "x")
                elif ins == "write":
                    yield O.write(v, "x", 1)
                elif ins == "lock":
                    yield from locked()
                else:
                    yield from body(ins)  # a nested call: one more generator in the chain

        def locked():
            yield O.lock(m)
            yield O.unlock(m)
        return Setup([ThreadSpec(f"T{i}", body, (b,)) for i, b in enumerate(spec)], v)
    return Program(setup, name="nested")


class Compare:
    """At every event, the thread's snapshot against a fresh walk of its chain."""

    def __init__(self):
        self.checked = 0
        self.depths = set()

    def on_start(self, ex):
        pass

    def on_event(self, ex, t, op, value):
        if t.done:
            return
        want = frames_of(t.gen)
        snap = snap_thread(t)
        assert frames_of_snap(snap) == want
        assert frames_of_snap(_snap(t.gen)) == want
        self.checked += 1
        self.depths.add(len(want))


@settings(max_examples=80, deadline=None)
@given(st.lists(_calls(3), min_size=1, max_size=3), st.randoms(use_true_random=False))
def test_snapshot_equals_a_fresh_walk_at_every_step(spec, rnd):
    obs = Compare()
    ex = Execution(build(spec), observers=[obs], races=False)
    while True:
        en = ex.enabled()
        if not en:
            break
        ex.step(rnd.choice(en))
    assert obs.checked == ex.nsteps


def test_snapshots_taken_earlier_keep_their_frames():
    """A snapshot is immutable: later steps of the thread do not change what it shows."""
    spec = [[["read", ["write", "read"], "lock"], "write"]]
    ex = Execution(build(spec), races=False)
    t = ex.threads[0]
    taken = []
    while ex.enabled():
        taken.append((snap_thread(t), frames_of(t.gen)))
        ex.step(0)
    assert len(taken) == ex.nsteps and len({len(f) for _s, f in taken}) > 1
    for snap, frames in taken:
        assert frames_of_snap(snap) == frames
