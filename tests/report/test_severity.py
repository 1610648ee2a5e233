"""The first violation of a report is of the verdict's kind (the text report's headline)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pcilock.cli.main import cli


def test_headline_is_the_verdicts_violation():
    # case-19 on v7.2 runs with [check] all = true and finds a data race before the use after free
    res = CliRunner().invoke(cli, ["check", "case-19-vfio-reset-vs-pcieport-unbind", "--kernel", "v7.2",
                                   "--format", "json"])
    assert res.exit_code == 1, res.output
    report = json.loads(res.output)
    kinds = [v["kind"] for v in report["violations"]]
    assert report["verdict"] == "uaf" and "race" in kinds, kinds
    assert kinds[0] == report["verdict"], kinds
    args = ["check", "case-19-vfio-reset-vs-pcieport-unbind", "--kernel", "v7.2"]
    text = CliRunner().invoke(cli, args).output
    assert text.splitlines()[1].startswith("BUG: KASAN: use-after-free"), text.splitlines()[:3]
