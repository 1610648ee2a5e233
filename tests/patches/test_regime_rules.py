"""Regime rules of the 2025 SR-IOV series (F15): only trees that existed, or that a revert or
re-application in series order produces, can be built; the others are input errors."""

from __future__ import annotations

import pytest

from pcilock.kernel import load_all
from pcilock.kernel._model import base_table
from pcilock.patches import PATCHES, RegimeError, build_table, parse_regime


def table(regime):
    load_all()
    return build_table(parse_regime(regime))


@pytest.mark.parametrize("regime,hint", [
    # 2/2 of the v3 series (a5338e365c45) kept while its 1/2 (2fa119c0e5e5) is reverted
    ("v7.2-2fa119c0e5e5", "-a5338e365c45-2fa119c0e5e5"),
    ("v6.1-2fa119c0e5e5-a5338e365c45", "-a5338e365c45-2fa119c0e5e5"),
    # 2/2 applied without 1/2
    ("v6.12-a5338e365c45-2fa119c0e5e5+a5338e365c45", "+2fa119c0e5e5"),
    # the original applied on top of its own revert
    ("v7.2+05703271c3cd", "-2fa119c0e5e5"),
])
def test_trees_that_never_existed_are_input_errors(regime, hint):
    with pytest.raises(RegimeError, match=hint.replace("+", r"\+")):
        table(regime)


@pytest.mark.parametrize("base", ["v6.1", "v6.12", "v7.2"])
def test_series_order_builds(base):
    # the pre-series state (05703271c3cd in effect) and back again
    t, present, _ = table(f"{base}-a5338e365c45-2fa119c0e5e5")
    assert "05703271c3cd" in present and "2fa119c0e5e5" not in present and "a5338e365c45" not in present
    assert t["sriov_add_vfs"] is PATCHES["05703271c3cd"].functions("after", base)["sriov_add_vfs"]
    t, present, _ = table(f"{base}-a5338e365c45-2fa119c0e5e5+2fa119c0e5e5+a5338e365c45")
    b = base_table(base)
    for name in ("sriov_add_vfs", "sriov_del_vfs", "sriov_numvfs_store"):
        assert t[name] is b[name]
    assert {"2fa119c0e5e5", "a5338e365c45"} <= present and "05703271c3cd" not in present


@pytest.mark.parametrize("regime,message", [
    ("v7.2+nechita-v14.1+nechita-v14", "nechita-v14.1 is applied twice (the series nechita-v14 includes it)"),
    ("v7.2+a5338e365c45", "a5338e365c45 is already in the base (v7.2 = 7.2.13)"),
])
def test_applying_twice_says_where_the_first_copy_came_from(regime, message):
    import re

    with pytest.raises(RegimeError, match=re.escape(message)):
        table(regime)
