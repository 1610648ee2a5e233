"""The seed deadlocks not covered by test_core_seeds.py come from exploration too: each
disappears when the lock acquisition that closes its cycle is taken out of the model."""

from __future__ import annotations

from test_core_seeds import verdict

from pcilock.kernel import load_all
from pcilock.kernel._model import K, base_table
from pcilock.patches import PATCHES


def test_numvfs_enable_vs_remove_needs_rrl_in_numvfs_store():
    name = "seed-000-finding-1-numvfs-enable-vs-remove"
    assert verdict(name, "v7.2").verdict == "deadlock"
    without = PATCHES["a5338e365c45"].functions("before", "v7.2")["sriov_numvfs_store"]
    res = verdict(name, "v7.2", {"sriov_numvfs_store": without}, stop_on_first=False)
    assert "deadlock" not in {f.kind for f in res.found}


def test_switch_remove_vs_child_unbind_needs_rrl_in_sriov_del_vfs():
    """Finding 4 on nechita-v14: the cycle closes at v14 1/2's pci_lock_rescan_remove() in
    sriov_del_vfs(); with the base's sriov_del_vfs (no lock there) it is gone."""
    name = "seed-000-finding-4-child-unbind"
    res = verdict(name, "v7.2+nechita-v14", stop_on_first=False)
    assert "deadlock" in {f.kind for f in res.found}
    load_all()
    res = verdict(name, "v7.2+nechita-v14", {"sriov_del_vfs": base_table("v7.2")["sriov_del_vfs"]},
                  stop_on_first=False)
    assert "deadlock" not in {f.kind for f in res.found}


def _pciehp_reset_slot_without_reset_lock(hotplug_slot, probe):
    """drivers/pci/hotplug/pciehp_hpc.c pciehp_reset_slot (v7.2) minus down_write/up_write(reset_lock)."""
    pdev = hotplug_slot.ctrl.port
    if probe:
        return 0
    yield from K.pci_hp_ignore_link_change(pdev)
    rc = yield from K.pci_bridge_secondary_bus_reset(pdev)
    yield from K.pci_hp_unignore_link_change(pdev)
    return rc


def test_vfio_surprise_removal_needs_reset_lock_in_pciehp_reset_slot():
    """Seed 003 without f5eff5591b8f: the closing task takes reset_lock for writing while it holds
    the device lock the pciehp IRQ thread waits for; without that acquisition no cycle remains."""
    name = "seed-003-vfio-surprise-removal"
    res = verdict(name, "v7.2-f5eff5591b8f")
    assert res.verdict == "deadlock"
    res = verdict(name, "v7.2-f5eff5591b8f", {"pciehp_reset_slot": _pciehp_reset_slot_without_reset_lock},
                  stop_on_first=False)
    assert "deadlock" not in {f.kind for f in res.found}
