"""Model driver mlx5_core: SR-IOV part (drivers/net/ethernet/mellanox/mlx5/core/sriov.c).

``mlx5_sriov_enable`` programs the firmware and the e-switch under the devlink
instance lock (:mod:`.eswitch`: in switchdev mode the VF representors' netdevs,
rtnl), drops it, then calls ``pci_enable_sriov``; ``mlx5_sriov_disable`` calls
``pci_disable_sriov`` first, then takes the devlink lock.  The devlink lock is
per PF and never held across the PCI calls.  6.1 has no ``num_vf_change``
argument (same lock order).
"""

from __future__ import annotations

from pcilock._engine_imports import lock, unlock
from pcilock.kernel._model import K, mirrors


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/sriov.c", note="e-switch, then per VF firmware commands "
         "(enable_hca, MSI-X count): no other lock", v61=72, v612=72, v72=72)
def mlx5_device_enable_sriov(pdev, num_vfs):
    err = yield from K.mlx5_eswitch_enable(pdev, num_vfs)
    return err


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/sriov.c", note="per VF disable_hca, then the e-switch; the "
         "wait for the VFs' firmware pages is a firmware wait", v61=126, v612=126, v72=126)
def mlx5_device_disable_sriov(pdev, num_vfs, clear_vf):
    yield from K.mlx5_eswitch_disable_sriov(pdev, clear_vf)


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/sriov.c", v61=158, v612=179, v72=179)
def mlx5_sriov_enable(pdev, num_vfs):
    yield lock(pdev.devlink_lock)  # devl_lock
    err = yield from K.mlx5_device_enable_sriov(pdev, num_vfs)
    yield unlock(pdev.devlink_lock)
    if err:
        return err
    err = yield from K.pci_enable_sriov(pdev, num_vfs)
    # on failure 6.12/7.2 undo the device part under devl_lock, 6.1 without it (no failure in the model)
    return err


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/sriov.c", v61=180, v612=203, v72=203)
def mlx5_sriov_disable(pdev, num_vf_change=False):
    num_vfs = yield from K.pci_num_vf(pdev)
    yield from K.pci_disable_sriov(pdev)
    yield lock(pdev.devlink_lock)  # devl_lock
    yield from K.mlx5_device_disable_sriov(pdev, num_vfs, True)
    yield unlock(pdev.devlink_lock)


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/sriov.c", v61=192, v612=215, v72=215)
def mlx5_core_sriov_configure(pdev, num_vfs):
    err = 0
    if num_vfs:
        err = yield from K.mlx5_sriov_enable(pdev, num_vfs)
    else:
        yield from K.mlx5_sriov_disable(pdev, True)
    return err if err else num_vfs


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/sriov.c", note="capability reads; pci_num_vf(PF) for a "
         "count of 0; mlx5_set_msix_vec_count: firmware commands, no lock of the model",
         v61=210, v612=233, v72=233)
def mlx5_core_sriov_set_msix_vec_count(vf, msix_vec_count):
    pf = vf.physfn
    if not msix_vec_count:
        yield from K.pci_num_vf(pf)  # mlx5_get_default_msix_vec_count(dev, pci_num_vf(pf))
    return 0


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.h", note="inline: a capability of the device",
         v61=322, v612=435, v72=465)
def mlx5_sriov_get_vf_total_msix(pdev):
    return 0
    yield
