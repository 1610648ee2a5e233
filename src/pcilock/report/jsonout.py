"""The JSON report: the report dict, serialised deterministically.

Keys are sorted and the text ends with a newline, so the same report gives the
same bytes.  ``schema.json`` (JSON Schema draft 2020-12) describes the format;
``docs/report-json.md`` documents every field.
"""

from __future__ import annotations

import json
from importlib import resources


def render_json(report):
    """Serialise *report* (from :func:`build_report`): sorted keys, indent 2, ASCII."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=True, allow_nan=False) + "\n"


def schema():
    """The JSON Schema of the report, as a dict."""
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))
