"""PCT: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi and
Nagarakatte, "A Randomized Scheduler with Probabilistic Guarantees of Finding
Bugs", ASPLOS 2010).

Each run gives every thread a random distinct priority (threads created at run
time get one when they appear) and picks ``depth - 1`` change points uniformly
among the first ``k`` steps, ``k`` being the longest run seen so far.  At each
step the highest-priority enabled thread runs; at the i-th change point the
running thread's priority drops below every initial priority.  For a bug of
depth d in a program with n threads and k steps, one run finds it with
probability at least 1/(n * k^(d-1)).

Deterministic for a given seed (run r uses ``random.Random(f"{seed}:{r}")``).
"""

from __future__ import annotations

import random

from .sampling import SamplingExplorer


class _Pct:
    def __init__(self, rng, depth, k):
        self.rng = rng
        self.prio = {}  # tid -> priority (higher runs first)
        self.change = sorted(rng.sample(range(1, k + 1), min(depth - 1, k))) if depth > 1 else []
        self.nchanged = 0
        self.taken = []

    def _priority(self, tid):
        p = self.prio.get(tid)
        if p is None:
            p = self.prio[tid] = 1000 + self.rng.random()
        return p

    def __call__(self, ex, enabled, last, i):
        if self.nchanged < len(self.change) and i == self.change[self.nchanged] and last is not None:
            self.nchanged += 1
            self.prio[last] = float(len(self.change) - self.nchanged)  # below all initial priorities
        best = max(enabled, key=lambda t: (self._priority(t), -t))
        self.taken.append((best, None))
        return best

    def choice(self, ex, tid, n):
        c = self.rng.randrange(n)
        self.taken[-1] = (tid, c)
        return c


class PctExplorer(SamplingExplorer):
    name = "pct"

    def __init__(self, program, depth=2, **kw):
        super().__init__(program, **kw)
        self.depth = depth
        self.k = 0

    def policy(self, r):
        return _Pct(random.Random(f"{self.seed}:{r}"), self.depth, max(self.k, 1))

    def after_run(self, run):
        self.k = max(self.k, len(run.schedule))
