"""Progress lines for long runs, on a terminal only.

The explorers call ``progress(stats)`` about once a second (the ``progress``
parameter of :func:`pcilock.engine.explore`).  A :class:`Progress` rewrites one
status line with ``\\r``::

    checking: executions=12034 (2.1k/s), pruned=311, depth=57, 5 s

and :meth:`Progress.finish` ends it with the stop reason.  Nothing is printed
when stderr is not a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys


class Progress:
    """A ``(stats)`` callable printing a status line on *stream*."""

    def __init__(self, stream):
        self.stream = stream
        self._width = 0
        self._last = None

    def __call__(self, stats):
        self._last = stats
        self._show(self._line(stats))

    def _line(self, stats):
        secs = float(getattr(stats, "seconds", 0.0) or 0.0)
        n = int(getattr(stats, "executions", 0) or 0)
        rate = f" ({_si(n / secs)}/s)" if secs > 0 else ""
        parts = [f"executions={n}{rate}"]
        pruned = getattr(stats, "sleep_blocked", None)
        if pruned:
            parts.append(f"pruned={pruned}")
        depth = getattr(stats, "max_depth", None)
        if depth:
            parts.append(f"depth={depth}")
        return "checking: " + ", ".join(parts) + f", {secs:.0f} s"

    def _show(self, line):
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def finish(self, stop_reason=None):
        """End the status line, saying why the run stopped.

        :param stop_reason: a :class:`pcilock.engine.StopReason` or a string.
        """
        describe = getattr(stop_reason, "describe", None)
        why = describe() if callable(describe) else (str(stop_reason) if stop_reason is not None else "")
        line = self._line(self._last) if self._last is not None else "checking: done"
        if why:
            line += f"; stopped: {why}"
        self._show(line)
        self.stream.write("\n")
        self.stream.flush()
        self._width = 0


def _si(x):
    if x >= 1e6:
        return f"{x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def make_progress(stream=None, force=False):
    """Return a :class:`Progress` on *stream* (default stderr), or None when it is not a TTY.

    :param force: report even when *stream* is not a terminal (tests).
    """
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if not force and not (callable(isatty) and isatty()):
        return None
    return Progress(stream)
