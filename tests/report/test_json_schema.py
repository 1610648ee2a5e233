"""The JSON report: valid against schema.json, deterministic bytes."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pcilock.report import render_json, schema


@pytest.fixture(scope="module")
def validator():
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s)


def test_reports_validate(any_report, validator):
    name, r = any_report
    text = render_json(r)
    errors = sorted(validator.iter_errors(json.loads(text)), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_round_trip_sorted_indented(any_report):
    _, r = any_report
    text = render_json(r)
    assert text.endswith("}\n")
    assert json.loads(text) == r
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert text.isascii()


def test_minimum_contract(reports):
    # the fields docs/design/scenario-format.md promises
    r = json.loads(render_json(reports["deadlock"]))
    for key in ("scenario", "regime", "verdict", "exhaustive", "stats", "violations"):
        assert key in r
    for key in ("executions", "events", "seconds"):
        assert key in r["stats"]
    v = r["violations"][0]
    for key in ("kind", "threads", "replay"):
        assert key in v
    for t in v["threads"]:
        assert {"name", "stack", "held", "waits_for"} <= set(t)


def test_schema_rejects_absolute_model_paths(reports, validator):
    r = json.loads(render_json(reports["deadlock"]))
    r["violations"][0]["threads"][0]["stack"][0]["model_file"] = "/home/me/pcilock/kernel/x.py"
    assert not validator.is_valid(r)


def test_schema_rejects_unknown_verdicts(reports, validator):
    r = json.loads(render_json(reports["ok"]))
    r["verdict"] = "fine"
    assert not validator.is_valid(r)
