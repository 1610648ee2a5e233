"""Results of an exploration: verdict, statistics, counterexamples."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

# verdicts, in the order a summary prefers them when several kinds were found
VERDICTS = ("ok", "deadlock", "hang", "race", "uaf", "warn", "inconclusive", "model-error")
KIND_ORDER = _KIND_ORDER = ("deadlock", "hang", "uaf", "race", "warn")  # most severe first


class StopReason(enum.Enum):
    COVERED = "covered"  # every interleaving was explored (exhaustive strategies only)
    BUDGET = "budget"  # the time or execution budget ran out
    VIOLATION = "violation"  # stopped at the first violation
    SAMPLED = "sampled"  # a sampling strategy finished its runs
    ERROR = "model-error"  # the model raised
    BOUND = "bound"  # a bounded search reached its bound without covering the space

    def describe(self):
        return {
            "covered": "every interleaving was covered",
            "budget": "the budget ran out before the space was covered",
            "violation": "stopped at the first violation",
            "sampled": "the sampling strategy finished its runs without covering the space",
            "model-error": "the model raised an error",
            "bound": "the preemption bound was reached before the space was covered",
        }[self.value]


@dataclass
class Budget:
    """Limits of one exploration; None means unlimited."""

    seconds: float | None = None
    executions: int | None = None

    def start(self):
        return _BudgetClock(self)


class _BudgetClock:
    def __init__(self, budget):
        self.budget = budget
        self.t0 = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.t0

    def exhausted(self, executions):
        b = self.budget
        if b.executions is not None and executions >= b.executions:
            return True
        if b.seconds is not None and time.monotonic() - self.t0 >= b.seconds:
            return True
        return False


@dataclass
class Stats:
    executions: int = 0  # executions run (including redundant ones)
    complete: int = 0  # executions that ran to a final state
    sleep_blocked: int = 0  # DPOR executions abandoned as redundant (sleep set)
    events: int = 0  # steps performed, including re-executed prefixes
    seconds: float = 0.0
    stop_reason: StopReason = StopReason.COVERED
    traces: int | None = None  # distinct Mazurkiewicz traces, where known
    max_depth: int = 0
    infeasible: int = 0  # internal consistency counter (should stay 0)
    filtered: int = 0  # races not reversible because no initial was enabled
    limit: str | None = None  # with stop_reason BUDGET: the limit reached, "executions" or "seconds"
    bound: int | None = None  # bounded search: its preemption bound

    def describe_stop(self):
        """Why the exploration stopped, in words, naming the limit that ended it."""
        if self.stop_reason is StopReason.BUDGET and self.limit == "executions":
            n = self.executions
            return (f"the execution limit was reached ({n} execution{'' if n == 1 else 's'}) before "
                    f"the space was covered")
        if self.stop_reason is StopReason.BUDGET and self.limit == "seconds":
            return "the time budget ran out before the space was covered"
        if self.stop_reason is StopReason.BOUND and self.bound is not None:
            return (f"the preemption bound ({self.bound}) was reached before the space was "
                    f"covered")
        return self.stop_reason.describe()

    def to_json(self):
        return {
            "executions": self.executions,
            "complete_executions": self.complete,
            "sleep_blocked": self.sleep_blocked,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "stop_reason": self.stop_reason.value,
            "traces": self.traces,
            "max_depth": self.max_depth,
            **({"limit": self.limit} if self.limit is not None else {}),
            **({"bound": self.bound} if self.bound is not None else {}),
        }


@dataclass
class Found:
    """One violation found, with the schedule that reaches it."""

    kind: str
    message: str
    signature: tuple
    schedule: list  # [(tid, choice or None)]
    tids: list
    detail: dict = field(default_factory=dict)
    execution: int = 0  # index of the execution that found it
    minimized: bool = False
    preemptions: int | None = None
    trace: object = None  # recorded Execution of the (minimized) schedule, for reports


@dataclass
class Result:
    verdict: str
    exhaustive: bool
    stats: Stats
    found: list = field(default_factory=list)
    error: object = None  # ModelError
    error_schedule: list | None = None
    strategy: str = ""
    seed: int | None = None
    lock_graph: object = None  # pcilock.engine.lockgraph.LockGraph, when explore(lock_graph=True)

    @property
    def exit_code(self):
        return exit_code_for(self.verdict)


def verdict_for(found, stop_reason, exhaustive_possible):
    """The verdict of an exploration given its violations and why it stopped."""
    if found:
        kinds = [f.kind for f in found]
        for k in _KIND_ORDER:
            if k in kinds:
                return k
        return kinds[0]
    if stop_reason is StopReason.COVERED and exhaustive_possible:
        return "ok"
    return "inconclusive"


def exit_code_for(verdict):
    if verdict == "ok":
        return 0
    if verdict == "inconclusive":
        return 3
    if verdict == "model-error":
        return 4
    return 1
