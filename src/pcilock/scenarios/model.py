"""A parsed scenario (the parser in :mod:`pcilock.scenarios.parse` builds these)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pcilock.kernel.world import Topology


@dataclass
class ThreadDecl:
    name: str
    ops: list  # [pcilock.kernel.userspace.Op]
    repeat: int = 1
    line: int = 0


@dataclass
class Scenario:
    id: str
    title: str
    links: list
    topology: Topology
    threads: list  # [ThreadDecl]
    expect: dict = field(default_factory=dict)  # regime string -> tuple of acceptable verdicts
    expect_lines: dict = field(default_factory=dict)  # regime string -> line in the file
    path: str | None = None
    options: dict = field(default_factory=dict)  # [check] table: strategy, budget, ... (optional)
    notes: str = ""
