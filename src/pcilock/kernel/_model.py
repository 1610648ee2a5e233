"""The machinery under the kernel model: versions, citations, the function table.

Every model function is a generator function decorated with :func:`mirrors`,
which records the kernel file and, per base version, the line where the real
function starts.  The same name may be defined more than once with different
versions (``pci_stop_dev`` in v6.1/v6.12 and in v7.2); the registry keeps each
variant.

Model functions never call each other directly: they go through the table
:data:`K` (``yield from K.pci_stop_bus_device(dev)``), which holds, for the
regime being checked, exactly one variant of every function: the base
version's, then replaced by the overrides of the patches the regime applies or
reverts (:mod:`pcilock.patches`).  Per-execution state (global locks such as
``pci_rescan_remove_lock``, the device tree) lives in :data:`W`, rebuilt by the
program's setup before every execution.  Both are plain singletons whose
``__dict__`` is replaced: attribute access stays as cheap as a module global,
and since one exploration runs at a time in a process, nothing leaks between
runs (the setup resets both).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field

V61, V612, V72 = "v6.1", "v6.12", "v7.2"
BASES = (V61, V612, V72)
BASE_RELEASES = {V61: "6.1.192", V612: "6.12.117", V72: "7.2.13"}
_KEYS = {"v61": V61, "v612": V612, "v72": V72}

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Citation:
    """Where a model function comes from: kernel file, function, line per version."""

    path: str  # kernel tree path, e.g. drivers/pci/remove.c
    function: str
    lines: dict  # base version -> line of the definition (None: not checked)
    patch: str | None = None  # patch id for overrides
    side: str | None = None  # "before" / "after" for patch functions
    note: str | None = None

    @property
    def versions(self):
        return tuple(v for v in BASES if v in self.lines)

    def describe(self, version=None):
        if self.patch is not None:
            where = f"{self.path}: {self.function} as {'before' if self.side == 'before' else 'after'} " \
                    f"{self.patch}"
            if version and self.lines.get(version):
                where += f" (base line {self.lines[version]} in {version})"
            return where
        if version is not None and version in self.lines:
            line = self.lines[version]
            return f"{self.path}:{line} {self.function} ({version})" if line else \
                f"{self.path} {self.function} ({version})"
        parts = ", ".join(f"{v}:{self.lines[v]}" if self.lines[v] else v for v in self.versions)
        return f"{self.path} {self.function} [{parts}]"


# name -> list of (Citation, function) for base versions
REGISTRY: dict[str, list] = {}
# model file (absolute) -> {function name: [(Citation, first line, last line), ...]} for reports
_BY_FILE: dict[str, dict] = {}


def _lines_of(kw):
    lines = {}
    for k, v in kw.items():
        if k not in _KEYS:
            raise TypeError(f"unknown version key {k!r} (use v61=, v612=, v72=)")
        lines[_KEYS[k]] = v
    return lines


def _index(fn, cit):
    f = os.path.abspath(inspect.getsourcefile(fn))
    src, first = inspect.getsourcelines(fn)
    _BY_FILE.setdefault(f, {}).setdefault(fn.__name__, []).append((cit, first, first + len(src) - 1))


def mirrors(path, note=None, **lines):
    """Register a base-kernel model function.

    ``@mirrors("drivers/pci/remove.c", v61=16, v612=32, v72=20)``: the function
    mirrors ``pci_stop_dev`` of ``drivers/pci/remove.c`` at those lines; it is
    used for exactly the versions given.
    """
    lines = _lines_of(lines)
    if not lines:
        raise TypeError("mirrors() needs at least one version")

    def deco(fn):
        cit = Citation(path, fn.__name__, lines, note=note)
        fn.__mirrors__ = cit
        REGISTRY.setdefault(fn.__name__, []).append((cit, fn))
        _index(fn, cit)
        return fn

    return deco


def base_table(version):
    """Every model function of base *version*: ``{name: function}``."""
    table = {}
    for name, variants in REGISTRY.items():
        for cit, fn in variants:
            if version in cit.lines:
                if name in table:
                    raise RuntimeError(f"two variants of {name} for {version}")
                table[name] = fn
    return table


class _Table:
    """The function table of the regime being checked (see module docstring)."""

    def __repr__(self):
        return f"<kernel table of {len(self.__dict__)} functions>"


class _World:
    """Per-execution state of the modelled machine (see :mod:`pcilock.kernel.world`)."""


K = _Table()
W = _World()


def activate(table, world=None):
    """Make *table* (``{name: function}``) the active function table."""
    K.__dict__.clear()
    K.__dict__.update(table)
    if world is not None:
        set_world(world)


def set_world(world_attrs):
    W.__dict__.clear()
    W.__dict__.update(world_attrs)


def citation_of(func_name, model_file, line=None):
    """The kernel file a model frame mirrors (for reports), or None.

    A file may define several variants of one function (one per base version, or a
    patch's before/after); *line*, a line of the frame, picks the variant whose source
    holds it."""
    cits = _BY_FILE.get(os.path.abspath(model_file), {}).get(func_name)
    if not cits:
        return None
    if line is not None:
        for cit, first, last in cits:
            if first <= line <= last:
                return cit.path
    return cits[0][0].path


def relpath(model_file):
    """Model file path relative to the package (``kernel/drivers/pci/remove.py``)."""
    f = os.path.abspath(model_file)
    if f.startswith(_PKG_DIR + os.sep):
        return f[len(_PKG_DIR) + 1:]
    return os.path.basename(f)


@dataclass
class ModelDriverInfo:
    name: str
    doc: str
    cites: list = field(default_factory=list)
