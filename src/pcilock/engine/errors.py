"""Exceptions raised by the engine."""


class ModelError(Exception):
    """A bug in the model (never a verdict about the modelled system)."""

    def __init__(self, message, thread=None, frames=None):
        super().__init__(message)
        self.message = message
        self.thread = thread
        self.frames = frames or []  # [(function, file, line)] innermost last


class NondeterminismError(ModelError):
    """Replaying a schedule did not reproduce the recorded behaviour."""


class ReplayError(Exception):
    """A replay string that cannot be parsed or does not fit the program."""


class StuckStepError(Exception):
    """Raised inside model code by the watchdog when one step never yields."""
