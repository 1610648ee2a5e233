"""Model driver mlx5_core (drivers/net/ethernet/mellanox/mlx5/core/main.c).

PF and VF driver.  ``probe_one`` initialises the device under its devlink lock
and does not enable SR-IOV; ``remove_one`` disables SR-IOV first
(``mlx5_sriov_disable`` → ``pci_disable_sriov``), which is the path of the
2025 recursive-lock report (2fa119c0e5e5) and of seed 000; ``sriov_configure``
is ``mlx5_core_sriov_configure``; ``sriov_set_msix_vec_count`` and
``sriov_get_vf_total_msix`` (behind the VF MSI-X sysfs files) take no lock.
Firmware, health and auxiliary devices are not modelled (they take no lock of
the PCI core).

Error handlers (``mlx5_err_handler``, same in v6.1/v6.12/v7.2):
``mlx5_pci_err_detected`` unloads the device (``mlx5_unload_one``: devlink
lock; ``mlx5_enter_error_state``'s leaf ``intf_state_mutex`` and the health
work drain are not modelled) and votes NEED_RESET (DISCONNECT on
perm_failure); ``mlx5_pci_slot_reset`` re-enables the device and polls its
firmware (no lock); ``mlx5_pci_resume`` loads it again (``mlx5_load_one``:
devlink lock).
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


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/main.c", note="mlx5_unload_one: devl_lock",
         v61=1840, v612=2045, v72=2033)
def mlx5_pci_err_detected(pdev, state):
    _devlink(pdev)
    yield lock(pdev.devlink_lock)  # mlx5_unload_one
    yield unlock(pdev.devlink_lock)
    return 4 if state == "perm_failure" else 3  # DISCONNECT / NEED_RESET


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/main.c", note="enable, restore, wait_vital: no lock",
         v61=1891, v612=2096, v72=2084)
def mlx5_pci_slot_reset(pdev):
    return 5  # PCI_ERS_RESULT_RECOVERED
    yield


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/main.c", note="mlx5_load_one: devl_lock",
         v61=1925, v612=2130, v72=2117)
def mlx5_pci_resume(pdev):
    _devlink(pdev)
    yield lock(pdev.devlink_lock)  # mlx5_load_one
    yield unlock(pdev.devlink_lock)


def sriov_configure(pdev, num_vfs):
    return K.mlx5_core_sriov_configure(pdev, num_vfs)


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.probe_one(d), remove=lambda d: K.remove_one(d),
                    sriov_configure=sriov_configure, ids=lambda d: d.spec.driver == NAME or
                    (d.is_virtfn and d.physfn.spec.vf_driver == NAME), boot=_devlink,
                    sriov_set_msix_vec_count=lambda vf, n: K.mlx5_core_sriov_set_msix_vec_count(vf, n),
                    sriov_get_vf_total_msix=lambda pf: K.mlx5_sriov_get_vf_total_msix(pf))
    drv.err_handler = {"error_detected": lambda d, s: K.mlx5_pci_err_detected(d, s),
                       "slot_reset": lambda d: K.mlx5_pci_slot_reset(d),
                       "resume": lambda d: K.mlx5_pci_resume(d)}
    return drv
