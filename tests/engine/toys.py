"""Toy programs with known answers for the engine tests and benchmarks."""

from __future__ import annotations

from pcilock.engine import Completion, Mutex, Program, RWSem, Setup, Shared, ThreadSpec
from pcilock.engine.ops import (
    check,
    choose,
    complete,
    down_read,
    down_write,
    join,
    lock,
    read,
    spawn,
    trylock,
    unlock,
    up_read,
    up_write,
    wait_for_completion,
    write,
)


class Vars(Shared):
    """A bag of shared integer variables x0..x15."""
    _shared_ = {f"x{i}": 0 for i in range(16)}

    def __init__(self, **kw):
        super().__init__(**kw)
        object.__setattr__(self, "name", "vars")


def abba(workers=0, fixed=False):
    """AB-BA plus *workers* unrelated threads each locking its own mutex twice."""
    def setup():
        A = Mutex("A")
        B = Mutex("B")

        def p():
            yield lock(A)
            yield lock(B)
            yield unlock(B)
            yield unlock(A)

        def q():
            first, second = (A, B) if fixed else (B, A)
            yield lock(first)
            yield lock(second)
            yield unlock(second)
            yield unlock(first)

        def w(m):
            for _ in range(2):
                yield lock(m)
                yield unlock(m)

        th = [ThreadSpec("P", p), ThreadSpec("Q", q)]
        th += [ThreadSpec(f"W{i}", w, (Mutex(f"m{i}"),)) for i in range(workers)]
        return th
    return Program(setup, name=f"abba-{workers}")


def disjoint(k, ops=2):
    """k threads each locking its own mutex *ops* times: one trace."""
    def setup():
        def w(m):
            for _ in range(ops):
                yield lock(m)
                yield unlock(m)
        return [ThreadSpec(f"T{i}", w, (Mutex(f"m{i}"),)) for i in range(k)]
    return Program(setup, name=f"disjoint-{k}")


def philosophers(n):
    """Dining philosophers: each takes left then right fork (deadlocks)."""
    def setup():
        forks = [Mutex(f"fork{i}") for i in range(n)]

        def phil(i):
            left, right = forks[i], forks[(i + 1) % n]
            yield lock(left)
            yield lock(right)
            yield unlock(right)
            yield unlock(left)
        return [ThreadSpec(f"phil{i}", phil, (i,)) for i in range(n)]
    return Program(setup, name=f"philosophers-{n}")


def rwsem_recursive_read():
    """T1 holds the rwsem for reading, T2 queues for writing, T1 reads again."""
    def setup():
        s = RWSem("sem")

        def t1():
            yield down_read(s)
            yield down_read(s)
            yield up_read(s)
            yield up_read(s)

        def t2():
            yield down_write(s)
            yield up_write(s)
        return [ThreadSpec("T1", t1), ThreadSpec("T2", t2)]
    return Program(setup, name="rwsem-recursive-read")


def lastzero(n):
    """lastzero(n) (Abdulla et al.): thread 0 scans array[n..0] for the last
    zero; thread j sets array[j] = array[j-1] + 1."""
    def setup():
        v = Vars()

        def scanner():
            i = n
            while i >= 0:
                x = yield read(v, f"x{i}")
                if x == 0:
                    break
                i -= 1

        def setter(j):
            x = yield read(v, f"x{j - 1}")
            yield write(v, f"x{j}", x + 1)
        th = [ThreadSpec("T0", scanner)] + [ThreadSpec(f"T{j}", setter, (j,)) for j in range(1, n + 1)]
        return Setup(th, v)
    return Program(setup, name=f"lastzero-{n}")


def indexer(n, size=128, per_thread=4):
    """indexer(n) (Flanagan and Godefroid, POPL 2005): n threads insert
    per_thread entries each into a hash table with open addressing,
    claiming a slot with a compare-and-swap."""
    class Table(Shared):
        _shared_ = {f"s{i}": 0 for i in range(size)}

        def __init__(self):
            super().__init__()
            object.__setattr__(self, "name", "table")

    from pcilock.engine.ops import rmw

    def setup():
        tbl = Table()

        def inserter(tid):
            for m in range(per_thread):
                w = (m + 1) * 11 + tid  # getmsg()
                h = (w * 7) % size  # hash(w)
                while True:
                    old = yield rmw(tbl, f"s{h}", lambda cur, w=w: w if cur == 0 else cur)
                    if old == 0:
                        break
                    h = (h + 1) % size
        return Setup([ThreadSpec(f"T{i}", inserter, (i,)) for i in range(n)], tbl)
    return Program(setup, name=f"indexer-{n}")


def readers_writers(readers, writers):
    """Readers and writers on one shared variable, protected by nothing."""
    def setup():
        v = Vars()

        def reader():
            yield read(v, "x0")

        def writer(k):
            yield write(v, "x0", k)
        th = [ThreadSpec(f"R{i}", reader) for i in range(readers)]
        th += [ThreadSpec(f"W{i}", writer, (i + 1,)) for i in range(writers)]
        return Setup(th, v)
    return Program(setup, name=f"readers-writers-{readers}-{writers}")


def spawn_join():
    """A parent spawns a child, both write x; the parent joins then checks."""
    def setup():
        v = Vars()

        def child():
            yield write(v, "x0", 1)

        def parent():
            c = yield spawn(child, name="child")
            yield write(v, "x1", 1)
            yield join(c)
            x = yield read(v, "x0")
            yield check(x == 1, "child's write not visible after join")
        return Setup([ThreadSpec("parent", parent)], v)
    return Program(setup, name="spawn-join")


def completion_handshake(broken=False):
    def setup():
        c = Completion("done")
        v = Vars()

        def waiter():
            yield wait_for_completion(c)
            x = yield read(v, "x0")
            yield check(x == 1, "data not ready after completion")

        def signaller():
            if not broken:
                yield write(v, "x0", 1)
            yield complete(c)
            if broken:
                yield write(v, "x0", 1)
        return Setup([ThreadSpec("waiter", waiter), ThreadSpec("signaller", signaller)], v)
    return Program(setup, name="completion")


def trylock_retry():
    """A trylock whose outcome decides what a thread does next."""
    def setup():
        m = Mutex("m")
        v = Vars()

        def a():
            yield lock(m)
            yield write(v, "x0", 1)
            yield unlock(m)

        def b():
            ok = yield trylock(m)
            if ok:
                x = yield read(v, "x0")
                yield write(v, "x1", x + 10)
                yield unlock(m)
            else:
                yield write(v, "x2", 1)
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b)], v)
    return Program(setup, name="trylock")


def choice_program():
    def setup():
        v = Vars()

        def a():
            c = yield choose(3, "which")
            yield write(v, "x0", c)

        def b():
            x = yield read(v, "x0")
            yield check(x != 2, "saw 2")
        return Setup([ThreadSpec("A", a), ThreadSpec("B", b)], v)
    return Program(setup, name="choice")
