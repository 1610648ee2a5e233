"""The model-agnostic exploration engine.

Model code imports operations from :mod:`pcilock.engine.ops` and objects from
:mod:`pcilock.engine.objects`; drivers call :func:`explore`.
"""

from .errors import ModelError, NondeterminismError, ReplayError
from .explore import STRATEGIES, explore, make_explorer, trace_of
from .objects import Completion, Gate, Mutex, RWSem, Shared
from .program import Program, Setup, ThreadSpec
from .result import Budget, Found, Result, Stats, StopReason, exit_code_for
from .runner import replay, run_one
from .schedule import decode, encode

__all__ = [
    "ModelError", "NondeterminismError", "ReplayError", "STRATEGIES", "explore", "make_explorer",
    "trace_of", "Completion", "Gate", "Mutex", "RWSem", "Shared", "Program", "Setup", "ThreadSpec",
    "Budget", "Found", "Result", "Stats", "StopReason", "exit_code_for", "replay", "run_one",
    "decode", "encode",
]
