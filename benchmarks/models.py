"""Benchmark programs with known answers.

Copied from ``tests/engine/toys.py`` so that ``benchmarks/run.py`` works from a
clean clone without the test tree on the path.  Each classic benchmark comes
with its number of Mazurkiewicz traces, known independently of the engine
(closed forms from the literature, checked by the engine tests and, for small
sizes, by the naive enumerator in :mod:`naive_enum`).
"""

from __future__ import annotations

import math

from pcilock.engine import Mutex, Program, Setup, Shared, ThreadSpec
from pcilock.engine.ops import lock, read, rmw, unlock, write


class Vars(Shared):
    """A bag of shared integer variables x0..x15."""

    _shared_ = {f"x{i}": 0 for i in range(16)}

    def __init__(self, **kw):
        super().__init__(**kw)
        object.__setattr__(self, "name", "vars")


def abba(workers=0, fixed=False):
    """AB-BA (P: A then B; Q: B then A) plus *workers* unrelated threads,
    each locking its own mutex twice (lock/unlock/lock/unlock)."""
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


def philosophers(n):
    """Dining philosophers: each takes its left fork, then its right (deadlocks)."""
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
    per_thread entries each into a hash table with open addressing, claiming
    a slot with a compare-and-swap."""
    class Table(Shared):
        _shared_ = {f"s{i}": 0 for i in range(size)}

        def __init__(self):
            super().__init__()
            object.__setattr__(self, "name", "table")

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
    """Readers and writers of one shared variable, protected by nothing."""
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


# -- known numbers of Mazurkiewicz traces -----------------------------------------

def lastzero_traces(n):
    """(n + 3) * 2^(n-2), for n >= 2."""
    return (n + 3) * 2 ** (n - 2)


def indexer_traces(n):
    """With 128 slots and 4 entries per thread, collisions start at 12 threads:
    1, 8, 64, 512, 4096 traces for n = 11 .. 15."""
    return 8 ** max(0, n - 11)


def readers_writers_traces(readers, writers):
    """w! orders of the writes; each read independently before, between or after them."""
    return math.factorial(writers) * (writers + 1) ** readers


def philosophers_traces(n):
    """2^n - 1: for each fork, which of its two philosophers takes it first, except the
    one cyclic combination no execution can realise (every philosopher taking its right
    fork before its neighbour takes it as a left fork).  The combination in which
    every philosopher takes its left fork first is the deadlock."""
    return 2 ** n - 1


def classic(quick=False):
    """The redundancy suite: ``[(program, known traces)]``."""
    if quick:
        sizes = dict(lastzero=5, indexer=12, rw=(2, 2), phil=4)
    else:
        sizes = dict(lastzero=9, indexer=14, rw=(4, 3), phil=8)
    n = sizes["lastzero"]
    k = sizes["indexer"]
    r, w = sizes["rw"]
    p = sizes["phil"]
    return [
        (lastzero(n), lastzero_traces(n)),
        (indexer(k), indexer_traces(k)),
        (readers_writers(r, w), readers_writers_traces(r, w)),
        (philosophers(p), philosophers_traces(p)),
    ]
