"""Upstream commits and posted series as function overrides; regimes.

Each module defines ``PATCH`` (or ``SERIES``) and its overrides.  Importing this
package imports every patch module, so :data:`PATCHES` is complete.
"""

from __future__ import annotations

from . import (  # noqa: F401  (imported for registration)
    commit_05703271c3cd,
    commit_2fa119c0e5e5,
    commit_7e89efc6e9e4,
    commit_a5338e365c45,
    commit_f5eff5591b8f,
    nechita_v14,
    wunner_2020,
)
from ._patch import Patch, Series
from .regime import PATCHES, SERIES, Regime, RegimeError, build_table, parse_regime

__all__ = ["PATCHES", "SERIES", "Patch", "Series", "Regime", "RegimeError", "build_table", "parse_regime"]
