"""A violation found in one execution (what :class:`~pcilock.engine.execution.Execution` reports).

Kept apart from :mod:`pcilock.engine.execution` so that detectors it imports
(:mod:`pcilock.engine.races`) can create violations directly.
"""

from __future__ import annotations


class Violation:
    """Something the checker reports: a deadlock, hang, failed check, ...

    A detector may pass ``lazy = (function, args)``, where ``function(*args)``
    returns ``(message, detail)`` from data it captured when it found the
    violation: the message and detail are then made at their first use (an
    exploration meets the same violation in many executions and keeps the
    first one of each signature).  A lazy violation needs a ``signature``.
    """

    __slots__ = ("kind", "_message", "tids", "step", "_detail", "signature", "_lazy")

    def __init__(self, kind, message, tids, step, detail=None, signature=None, lazy=None):
        self.kind = kind
        self._message = message
        self.tids = tids  # threads involved, in report order
        self.step = step  # index of the step at which it was detected
        self._detail = detail or {}
        self.signature = signature if signature is not None else (kind, message)
        self._lazy = lazy

    def _force(self):
        fn, args = self._lazy
        self._lazy = None
        self._message, self._detail = fn(*args)

    @property
    def message(self):
        if self._lazy is not None:
            self._force()
        return self._message

    @message.setter
    def message(self, value):
        if self._lazy is not None:
            self._force()
        self._message = value

    @property
    def detail(self):
        if self._lazy is not None:
            self._force()
        return self._detail

    @detail.setter
    def detail(self, value):
        if self._lazy is not None:
            self._force()
        self._detail = value

    def __repr__(self):
        return f"<violation {self.kind}: {self.message}>"
