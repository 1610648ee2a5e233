"""Model driver mlx5_core (drivers/net/ethernet/mellanox/mlx5/core/main.c).

PF and VF driver.  ``probe_one`` initialises the device under its devlink lock
and does not enable SR-IOV; ``remove_one`` disables SR-IOV first
(``mlx5_sriov_disable`` → ``pci_disable_sriov``), which is the path of the
2025 recursive-lock report (2fa119c0e5e5) and of seed 000; ``sriov_configure``
is ``mlx5_core_sriov_configure``.  Firmware, health and auxiliary devices are
not modelled (they take no lock of the PCI core).
"""

from __future__ import annotations

from pcilock._engine_imports import Mutex, lock, unlock
from pcilock.kernel._model import K, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "mlx5_core"


def _devlink(pdev):
    if getattr(pdev, "devlink_lock", None) is None:
        pdev.devlink_lock = Mutex(f"&devlink->lock {pdev.bdf}", "&devlink->lock")


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/main.c", v61=1740, v612=1954, v72=1932)
def probe_one(pdev):
    _devlink(pdev)
    yield lock(pdev.devlink_lock)  # mlx5_init_one
    yield unlock(pdev.devlink_lock)
    return 0


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/main.c", v61=1803, v612=2014, v72=2001)
def remove_one(pdev):
    _devlink(pdev)
    if pdev.is_physfn:
        yield from K.mlx5_sriov_disable(pdev, False)
    yield lock(pdev.devlink_lock)  # mlx5_uninit_one
    yield unlock(pdev.devlink_lock)


def sriov_configure(pdev, num_vfs):
    return K.mlx5_core_sriov_configure(pdev, num_vfs)


def make_driver():
    return PciDriver(NAME, probe=lambda d: K.probe_one(d), remove=lambda d: K.remove_one(d),
                     sriov_configure=sriov_configure, ids=lambda d: d.spec.driver == NAME or
                     (d.is_virtfn and d.physfn.spec.vf_driver == NAME), boot=_devlink)
