"""Same input, same bytes: two explorations give byte-identical reports."""

from __future__ import annotations

import programs as P
import pytest
import toys
from cases import make_report

from pcilock.report import render_dot, render_html, render_json, render_text

RENDERERS = [render_text, render_json, render_dot, render_html]


@pytest.mark.parametrize("make", [
    lambda: P.sriov_abba(workers=2), P.vfio_hang, lambda: toys.philosophers(3), P.is_added_race,
    P.put_then_use, P.broken_model,
], ids=["abba", "hang", "philosophers", "race", "uaf", "model-error"])
def test_two_runs_identical(make):
    a = make_report(P.explore(make()))
    b = make_report(P.explore(make()))
    for render in RENDERERS:
        assert render(a) == render(b), render.__name__


def test_rendering_twice_is_identical(any_report):
    _, r = any_report
    for render in RENDERERS:
        assert render(r) == render(r)
