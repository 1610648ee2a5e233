"""Seeded random walk: at every step run a uniformly chosen enabled thread.

Deterministic for a given seed: run k uses ``random.Random(f"{seed}:{k}")``.
"""

from __future__ import annotations

import random

from .sampling import SamplingExplorer


class _Walk:
    def __init__(self, rng):
        self.rng = rng
        self.taken = []

    def __call__(self, ex, enabled, last, i):
        tid = enabled[self.rng.randrange(len(enabled))]
        self.taken.append((tid, None))
        return tid

    def choice(self, ex, tid, n):
        c = self.rng.randrange(n)
        self.taken[-1] = (tid, c)
        return c


class RandomWalkExplorer(SamplingExplorer):
    name = "random"

    def policy(self, k):
        return _Walk(random.Random(f"{self.seed}:{k}"))
