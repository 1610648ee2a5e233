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


MIN = """
[[device]]
bdf = "0000:01:00.0"
driver = "mlx5_core"
sriov = { total_vfs = 4, num_vfs = 2 }

[[thread]]
run = ["echo 0 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]

[[thread]]
run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/remove"]
"""


def test_cycles_of_a_proven_ok_regime_are_said_never_to_close(tmp_path):
    p = tmp_path / "min.toml"
    p.write_text(MIN)
    ok = CliRunner().invoke(cli, ["check", str(p), "--kernel", "v7.2+nechita-v14"])
    assert ok.exit_code == 0 and "cycle" in ok.output, ok.output
    assert "No interleaving closes any of these cycles" in ok.output, ok.output
    bad = CliRunner().invoke(cli, ["check", str(p), "--kernel", "v7.2"])
    assert bad.exit_code == 1 and "No interleaving closes" not in bad.output
