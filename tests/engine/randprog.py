"""Random small programs mixing every engine primitive (for differential tests)."""

from __future__ import annotations

from hypothesis import strategies as st
from toys import Vars

from pcilock.engine import Completion, Gate, Mutex, Program, RWSem, Setup, ThreadSpec
from pcilock.engine import ops as O

NM, NS, NV, NC = 2, 1, 3, 1


def _leaf():
    return st.one_of(
        st.tuples(st.just("write"), st.integers(0, NV - 1), st.integers(1, 2)),
        st.tuples(st.just("read"), st.integers(0, NV - 1)),
        st.tuples(st.just("complete"), st.integers(0, NC - 1)),
        st.tuples(st.just("wait"), st.integers(0, NC - 1)),
        st.tuples(st.just("choose"), st.integers(0, NV - 1)),
        st.tuples(st.just("gate"), st.just(0)),
        st.tuples(st.just("close"), st.just(0)),
    )


def _block(depth):
    if depth == 0:
        return st.lists(_leaf(), min_size=0, max_size=2)
    inner = _block(depth - 1)
    item = st.one_of(
        _leaf(),
        st.tuples(st.just("lock"), st.integers(0, NM - 1), inner),
        st.tuples(st.just("try"), st.integers(0, NM - 1), inner, inner),
        st.tuples(st.just("rd"), st.integers(0, NS - 1), inner),
        st.tuples(st.just("wr"), st.integers(0, NS - 1), inner),
        st.tuples(st.just("rtry"), st.integers(0, NS - 1), inner),
        st.tuples(st.just("wtry"), st.integers(0, NS - 1), inner),
        st.tuples(st.just("if"), st.integers(0, NV - 1), st.integers(0, 2), inner),
        st.tuples(st.just("spawn"), inner),
    )
    return st.lists(item, min_size=1, max_size=3)


programs = st.lists(_block(2), min_size=2, max_size=3)


def build(spec):
    def setup():
        ms = [Mutex(f"m{i}") for i in range(NM)]
        ss = [RWSem(f"s{i}") for i in range(NS)]
        cs = [Completion(f"c{i}") for i in range(NC)]
        g = Gate("g")
        v = Vars()

        def run(block):
            for ins in block:
                k = ins[0]
                if k == "write":
                    yield O.write(v, f"x{ins[1]}", ins[2])
                elif k == "read":
                    yield O.read(v, f"x{ins[1]}")
                elif k == "complete":
                    yield O.complete(cs[ins[1]])
                elif k == "wait":
                    yield O.wait_for_completion(cs[ins[1]])
                elif k == "choose":
                    c = yield O.choose(2)
                    yield O.write(v, f"x{ins[1]}", c)
                elif k == "gate":
                    ok = yield O.gate_enter(g)
                    if ok:
                        yield O.gate_leave(g)
                elif k == "close":
                    yield O.gate_close(g)
                elif k == "lock":
                    yield O.lock(ms[ins[1]])
                    yield from run(ins[2])
                    yield O.unlock(ms[ins[1]])
                elif k == "try":
                    ok = yield O.trylock(ms[ins[1]])
                    if ok:
                        yield from run(ins[2])
                        yield O.unlock(ms[ins[1]])
                    else:
                        yield from run(ins[3])
                elif k == "rd":
                    yield O.down_read(ss[ins[1]])
                    yield from run(ins[2])
                    yield O.up_read(ss[ins[1]])
                elif k == "wr":
                    yield O.down_write(ss[ins[1]])
                    yield from run(ins[2])
                    yield O.up_write(ss[ins[1]])
                elif k == "rtry":
                    ok = yield O.down_read_trylock(ss[ins[1]])
                    if ok:
                        yield from run(ins[2])
                        yield O.up_read(ss[ins[1]])
                elif k == "wtry":
                    ok = yield O.down_write_trylock(ss[ins[1]])
                    if ok:
                        yield from run(ins[2])
                        yield O.up_write(ss[ins[1]])
                elif k == "if":
                    x = yield O.read(v, f"x{ins[1]}")
                    if x == ins[2]:
                        yield from run(ins[3])
                elif k == "spawn":
                    c = yield O.spawn(run, ins[1])
                    yield O.join(c)

        return Setup([ThreadSpec(f"T{i}", run, (b,)) for i, b in enumerate(spec)], v)
    return Program(setup, name="random")


def final_state(world):
    return tuple(world.peek(f"x{i}") for i in range(NV))
