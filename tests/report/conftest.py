"""Reports of toy explorations, built once per session for the report tests."""

from __future__ import annotations

import pytest
from cases import CASES


@pytest.fixture(scope="session")
def reports():
    return {name: make() for name, make in CASES.items()}


@pytest.fixture(params=sorted(CASES))
def any_report(request, reports):
    return request.param, reports[request.param]
