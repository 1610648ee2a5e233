"""Regimes: a base version plus an ordered list of patches applied or reverted.

``v7.2+nechita-v14``, ``v6.12-f5eff5591b8f``, ``v7.2-a5338e365c45-2fa119c0e5e5``.
:func:`parse_regime` checks the syntax and that every id is known;
:func:`build_table` applies the steps to the base's function table and rejects
a step that does not apply: a patch already present, a revert of one that is
not, a function another step already changed differently, a patch applied
while a revert of it is present (``+05703271c3cd`` on a base that has its
revert 2fa119c0e5e5: ``-2fa119c0e5e5`` is the way to re-apply it), a patch
applied without the earlier patch of its series it was written on top of, or
such an earlier patch reverted while the later one is present (``requires``:
a5338e365c45 is 2/2 of the v3 series whose 1/2 is 2fa119c0e5e5, so
``-2fa119c0e5e5`` alone, a tree with both rescan-remove lock placements that
never existed, must be written ``-a5338e365c45-2fa119c0e5e5``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..kernel._model import BASE_RELEASES, BASES, base_table

PATCHES: dict = {}
SERIES: dict = {}


def register(p):
    PATCHES[p.id] = p
    return p


def register_series(s):
    SERIES[s.id] = s
    return s


class RegimeError(ValueError):
    """A regime that cannot be parsed or built (an input error).

    ``str()`` is ``regime R: problem``; ``detail`` is the problem alone, for a caller whose
    message already names the regime (``--kernel R: problem``)."""

    def __init__(self, regime, detail, message=None):
        self.regime = regime
        self.detail = detail
        super().__init__(message or f"regime {regime}: {detail}")


@dataclass(frozen=True)
class Regime:
    base: str
    steps: tuple  # (("+" | "-", id), ...)

    def __str__(self):
        return self.base + "".join(s + i for s, i in self.steps)

    @property
    def release(self):
        return BASE_RELEASES[self.base]


_BASE_RE = re.compile(r"v(\d+\.\d+)")


def _known_ids():
    return sorted(list(PATCHES) + list(SERIES), key=lambda s: (-len(s), s))


def parse_regime(text):
    """Parse *text* into a :class:`Regime` (syntax and known ids only)."""
    s = text.strip()
    m = _BASE_RE.match(s)
    if not m or f"v{m.group(1)}" not in BASES:
        bases = f"bases are {', '.join(BASES)}"
        raise RegimeError(repr(text), f"unknown base kernel; {bases}",
                          f"unknown base kernel in regime {text!r}; {bases}")
    base = f"v{m.group(1)}"
    pos = m.end()
    steps = []
    ids = _known_ids()
    while pos < len(s):
        sign = s[pos]
        if sign not in "+-":
            raise RegimeError(repr(text), f"expected '+ID' or '-ID' at {s[pos:]!r}")
        pos += 1
        for pid in ids:
            if s.startswith(pid, pos) and (pos + len(pid) == len(s) or s[pos + len(pid)] in "+-"):
                steps.append((sign, pid))
                pos += len(pid)
                break
        else:
            rest = re.match(r"[^+]*", s[pos:]).group(0)
            raise RegimeError(repr(text), f"unknown patch {sign}{rest!r}; known: "
                              f"{', '.join(sorted(list(PATCHES) + list(SERIES)))}")
    return Regime(base, tuple(steps))


def _expand(steps):
    out = []
    for sign, pid in steps:
        if pid in SERIES:
            members = SERIES[pid].members
            out.extend((sign, m) for m in (members if sign == "+" else reversed(members)))
        else:
            out.append((sign, pid))
    return out


def present_in(base):
    return {pid for pid, p in PATCHES.items() if base in p.in_bases}


def build_table(regime):
    """The function table of *regime*: ``(table, present patch ids, changed-by map)``."""
    version = regime.base
    base = base_table(version)
    table = dict(base)
    present = present_in(version)
    changed_by = {}
    for sign, pid in _expand(regime.steps):
        p = PATCHES[pid]
        if sign == "+":
            if pid in present:
                if version in p.in_bases:
                    raise RegimeError(regime, f"{pid} is already in the base ({version} = "
                                      f"{BASE_RELEASES[version]}); cannot apply it again")
                series = [sid for sid, ser in SERIES.items() if pid in ser.members
                          and ("+", sid) in regime.steps]
                also = f" (the series {series[0]} includes it)" if series else ""
                raise RegimeError(regime, f"{pid} is applied twice{also}; cannot apply it again")
            for q in sorted(present):
                if getattr(PATCHES.get(q), "reverts", None) == pid:
                    raise RegimeError(regime, f"{pid} is reverted by {q}, which is present; "
                                      f"re-apply it by reverting the revert: -{q}")
            for r in p.requires:
                if r not in present:
                    raise RegimeError(regime, f"{pid} applies on top of {r}, which is not present "
                                      f"here; apply +{r} first")
            for c in p.conflicts:
                if c in present:
                    raise RegimeError(regime, f"{pid} does not apply while {c} is present "
                                      f"({p.note or 'they change the same code'}); revert it first "
                                      f"with -{c}")
            new = p.functions("after", version)
            old = p.functions("before", version)
            if not new and version in p.in_bases:  # re-applying a commit of the base reverted earlier
                new = {name: base[name] for name in old if name in base}
            if not new:
                raise RegimeError(regime, f"{pid} has no model for {version}")
            for name, fn in new.items():
                expected = old.get(name, base.get(name))
                if table.get(name) is not expected:
                    raise RegimeError(regime, f"{pid} does not apply: {name}() was already "
                                      f"changed by {changed_by.get(name, 'another step')}")
                table[name] = fn
                changed_by[name] = f"+{pid}"
            present.add(pid)
            if getattr(p, "reverts", None):
                present.discard(p.reverts)
        else:
            if pid not in present:
                raise RegimeError(regime, f"{pid} is not in {version} "
                                  f"({BASE_RELEASES[version]}), so it cannot be reverted")
            for q in sorted(present):
                if pid in PATCHES[q].requires:
                    raise RegimeError(regime, f"{q} applies on top of {pid} and is present; "
                                      f"revert it first: -{q}-{pid}")
            old = p.functions("before", version)
            if not old:
                raise RegimeError(regime, f"reverting {pid} is not modelled for {version}")
            new = p.functions("after", version)
            for name, fn in old.items():
                expected = new.get(name, base.get(name))
                if table.get(name) is not expected:
                    raise RegimeError(regime, f"-{pid} does not apply: {name}() was already "
                                      f"changed by {changed_by.get(name, 'another step')}")
                table[name] = fn
                changed_by[name] = f"-{pid}"
            present.discard(pid)
            if getattr(p, "reverts", None):
                present.add(p.reverts)
    return table, present, changed_by
