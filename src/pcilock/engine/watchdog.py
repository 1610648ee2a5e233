"""Stop a model step that never yields back to the engine.

Plain Python between two yields runs without the engine's control; a loop
that never reaches a ``yield`` would hang the checker.  While a watchdog is
active (main thread only, where signals are delivered), an interval timer
checks that model code keeps returning to the engine; when one step has run
for ``limit`` seconds, :class:`StuckStepError` is raised inside the model code,
and the execution turns it into a model error naming the thread and the line.
"""

from __future__ import annotations

import signal
import threading

from . import execution
from .errors import StuckStepError

TICK = 0.25


class Watchdog:
    def __init__(self, limit=5.0):
        self.limit = limit
        self.active = False

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            return self
        self._last = None
        self._stuck = 0.0
        self._prev = signal.signal(signal.SIGALRM, self._tick)
        signal.setitimer(signal.ITIMER_REAL, TICK, TICK)
        self.active = True
        return self

    def _tick(self, signum, frame):
        p = execution.PROGRESS
        if not p[1]:  # engine code, not model code: fine
            self._last = None
            self._stuck = 0.0
            return
        if p[0] != self._last:
            self._last = p[0]
            self._stuck = 0.0
            return
        self._stuck += TICK
        if self._stuck >= self.limit:
            self._stuck = 0.0
            raise StuckStepError()

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0, 0)
            signal.signal(signal.SIGALRM, self._prev)
            self.active = False
        return False
