"""A patch: a set of function overrides with its provenance.

A merged commit present in a base carries the functions as they were *before*
it (for ``-ID``); a patch not in a base carries the functions as they are
*after* it (for ``+ID``).  The base table already holds the other side.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from ..kernel._model import BASES, Citation, _index, _lines_of


@dataclass
class Patch:
    id: str
    title: str
    links: list
    in_bases: tuple = ()  # bases that contain the commit
    kind: str = "commit"  # commit | posted
    conflicts: tuple = ()  # patch ids that must NOT be present when this one is applied
    # patch ids this one was applied on top of (an earlier patch of the same series): they must be
    # present when this one is applied, and cannot be reverted while this one is present
    requires: tuple = ()
    note: str = ""
    world_init: object = None  # adds state the patch needs to each execution's world
    before: dict = field(default_factory=dict)  # name -> [(versions, fn)]
    after: dict = field(default_factory=dict)

    def _register(self, side, path, lines, note):
        lines = _lines_of(lines) if lines else {v: None for v in BASES}

        def deco(fn):
            cit = Citation(path, fn.__name__, lines, patch=self.id, side=side, note=note)
            fn.__mirrors__ = cit
            getattr(self, side).setdefault(fn.__name__, []).append((tuple(lines), fn))
            _index(fn, cit)
            return fn

        return deco

    def before_fn(self, path, note=None, **lines):
        """Register the function as it was before this commit (used by ``-ID``)."""
        return self._register("before", path, lines, note)

    def after_fn(self, path, note=None, **lines):
        """Register the function as this patch makes it (used by ``+ID``)."""
        return self._register("after", path, lines, note)

    def functions(self, side, version):
        out = {}
        for name, variants in getattr(self, side).items():
            for versions, fn in variants:
                if version in versions:
                    out[name] = fn
        return out

    @property
    def source_file(self):
        return inspect.getsourcefile(type(self))


@dataclass
class Series:
    id: str
    title: str
    links: list
    members: tuple
