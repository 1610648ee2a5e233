"""``pcilock explain``: the model's lock skeleton of one function, with its citation per version."""

from __future__ import annotations

from click.testing import CliRunner

from pcilock.cli.main import cli


def explain(*args):
    return CliRunner().invoke(cli, ["explain", *args])


def test_sriov_numvfs_store_skeleton():
    res = explain("sriov_numvfs_store", "--kernel", "v7.2")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("sriov_numvfs_store  [drivers/pci/iov.c:463 sriov_numvfs_store (v7.2)]")
    body = "\n".join(lines)
    # device_lock, then the rescan lock around the driver's callback
    assert body.index("-> device_lock(dev)") < body.index("-> pci_lock_rescan_remove()") \
        < body.index("CB drv.sriov_configure(dev, 0)") < body.index("-> device_unlock(dev)")
    # an empty branch says so instead of showing nothing
    assert "(no lock, call or wait)" in body


def test_free_irq_per_version_with_helpers_inline():
    v61 = explain("__free_irq", "--kernel", "v6.1").output
    v612 = explain("__free_irq", "--kernel", "v6.12").output
    assert "manage.c:1866" in v61 and "manage.c:1892" in v612
    assert "-> __synchronize_hardirq(desc, True)" in v61 and "__synchronize_irq" not in v61
    assert "-> __synchronize_irq(desc)" in v612
    for out in (v61, v612):
        # the model-only helpers are shown inline, not as driver callbacks
        assert "CB _" not in out, out
        assert "_kthread_stop(action)  (model-only helper, inline:)" in out
        assert "LOCK wait for task(st.thread)" in out


def test_unknown_function_or_regime_is_one_line_exit_2():
    for args in (("nosuch",), ("sriov_numvfs_store", "--kernel", "v9")):
        res = explain(*args)
        assert res.exit_code == 2, res.output
        assert len(res.output.strip().splitlines()) == 1, res.output

