"""What the engine explores: a program = a setup function building fresh shared
objects and the initial threads, plus optional end-of-run checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ThreadSpec:
    """An initial thread: ``fn(*args)`` must return a generator."""

    name: str | None
    fn: Callable
    args: tuple = ()


@dataclass
class Setup:
    threads: list
    world: Any = None


@dataclass
class Program:
    """A model program.

    :param setup: called once per execution; returns a :class:`Setup` (or a
        list of :class:`ThreadSpec`) with freshly created shared objects.
    :param final_checks: called at the end of every complete execution with
        ``(world, execution)``; returns a list of ``(kind, message, tids)``.
    """

    setup_fn: Callable
    name: str = "program"
    final_checks: Callable | None = None
    meta: dict = field(default_factory=dict)

    def setup(self):
        s = self.setup_fn()
        if isinstance(s, Setup):
            return s
        return Setup(threads=list(s))


def program(*threads, name="program"):
    """Build a :class:`Program` from ``(name, fn, *args)`` tuples and a setup.

    Convenience for tests: ``program(lambda: [...ThreadSpec...])``.
    """
    if len(threads) == 1 and callable(threads[0]):
        return Program(threads[0], name=name)
    raise TypeError("program() takes one setup callable")
