"""Model driver mlx5_core (drivers/net/ethernet/mellanox/mlx5/core/main.c).

PF and VF driver.  ``probe_one`` initialises the device under its devlink lock
and ``intf_state_mutex``, where registering the auxiliary devices runs the mlx5e
probe, which registers a netdev (rtnl; 6.1 also holds the global
``mlx5_intf_mutex``, 6.12/7.2 a PF's HCA devcom sem); it does not enable
SR-IOV.  ``remove_one`` disables SR-IOV first (``mlx5_sriov_disable`` →
``pci_disable_sriov``), which is the path of the 2025 recursive-lock report
(2fa119c0e5e5) and of seed 000, then unregisters the auxiliary devices the same
way (rtnl).  ``sriov_configure`` is ``mlx5_core_sriov_configure``;
``sriov_set_msix_vec_count`` and ``sriov_get_vf_total_msix`` (behind the VF
MSI-X sysfs files) take no lock.  Firmware events (the fw-reset and health
works, drained idle by ``remove_one``; the fw-reset link toggle that takes the
config-access lock of every device on the bus) and the auxiliary drivers other
than mlx5e are not modelled.  Driver option ``switchdev = 1``: the PF's
e-switch is in switchdev mode (:mod:`.eswitch`).

Error handlers (``mlx5_err_handler``, same in v6.1/v6.12/v7.2):
``mlx5_pci_err_detected`` unloads the device (``mlx5_unload_one``: devlink
lock; ``mlx5_enter_error_state``'s leaf ``intf_state_mutex`` and the health
work drain are not modelled) and votes NEED_RESET (DISCONNECT on
perm_failure); ``mlx5_pci_slot_reset`` re-enables the device and polls its
firmware (no lock); ``mlx5_pci_resume`` loads it again (``mlx5_load_one``:
devlink lock).
"""

from __future__ import annotations

from pcilock._engine_imports import Mutex, RWSem, down_write, lock, unlock, up_write
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "mlx5_core"


def _devlink(pdev):
    """The per-device locks of mlx5_core, made when first needed (model-only helper)."""
    if getattr(pdev, "devlink_lock", None) is None:
        pdev.devlink_lock = Mutex(f"&devlink->lock {pdev.bdf}", "&devlink->lock")
        pdev.intf_state_mutex = Mutex(f"&dev->intf_state_mutex {pdev.bdf}", "&dev->intf_state_mutex")


def _global_lock(name, make):
    """A lock global to the mlx5_core module (model-only helper: made on first use in an execution)."""
    lk = W.__dict__.get(name)
    if lk is None:
        lk = W.__dict__[name] = make()
    return lk


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/main.c", note="mlx5_init_one: devl_lock, intf_state_mutex, "
         "mlx5_register_device", v61=1740, v612=1954, v72=1932)
def probe_one(pdev):
    _devlink(pdev)
    yield lock(pdev.devlink_lock)  # mlx5_init_one (6.12/7.2: -> mlx5_init_one_devl_locked)
    yield lock(pdev.intf_state_mutex)
    yield from K.mlx5_register_device(pdev)
    yield unlock(pdev.intf_state_mutex)
    yield unlock(pdev.devlink_lock)
    return 0


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/main.c", note="the fw-reset and health works are drained "
         "(idle in the model: firmware events are not modelled); 6.1 unregisters the devlink instance first "
         "(devlink_unregister waits for in-flight devlink users: none in the model); mlx5_uninit_one: "
         "devl_lock, intf_state_mutex, mlx5_unregister_device", v61=1803, v612=2014, v72=2001)
def remove_one(pdev):
    _devlink(pdev)
    # set_bit(MLX5_BREAK_FW_WAIT); mlx5_drain_fw_reset; mlx5_drain_health_wq: cancel_work_sync of idle works
    if pdev.is_physfn:
        yield from K.mlx5_sriov_disable(pdev, False)
    yield lock(pdev.devlink_lock)  # mlx5_uninit_one
    yield lock(pdev.intf_state_mutex)
    yield from K.mlx5_unregister_device(pdev)
    yield unlock(pdev.intf_state_mutex)
    yield unlock(pdev.devlink_lock)


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/dev.c", note="6.1: the global mlx5_intf_mutex around "
         "adding the auxiliary devices, whose mlx5e probe registers the netdev (rtnl)", v61=443)
def mlx5_register_device(pdev):
    mlx5_intf_mutex = _global_lock("mlx5_intf_mutex", lambda: Mutex("mlx5_intf_mutex"))
    yield lock(mlx5_intf_mutex)
    yield from K.mlx5e_probe(pdev)  # mlx5_rescan_drivers_locked -> auxiliary device_add -> mlx5e_probe
    yield unlock(mlx5_intf_mutex)
    return 0


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/dev.c", note="6.12/7.2: the HCA devcom component's sem "
         "(write) around it; the component exists on PFs that support LAG (not on VFs); the model gives "
         "each PF its own (PFs of one card share it in the kernel)", v612=447, v72=456)
def mlx5_register_device(pdev):  # noqa: F811
    sem = _hca_devcom_sem(pdev)
    if sem is not None:
        yield down_write(sem)
    yield from K.mlx5e_probe(pdev)
    if sem is not None:
        yield up_write(sem)
    return 0


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/dev.c", v61=458)
def mlx5_unregister_device(pdev):
    mlx5_intf_mutex = _global_lock("mlx5_intf_mutex", lambda: Mutex("mlx5_intf_mutex"))
    yield lock(mlx5_intf_mutex)
    yield from K.mlx5e_remove(pdev)  # auxiliary device_del -> mlx5e_remove
    yield unlock(mlx5_intf_mutex)


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/dev.c", v612=462, v72=471)
def mlx5_unregister_device(pdev):  # noqa: F811
    sem = _hca_devcom_sem(pdev)
    if sem is not None:
        yield down_write(sem)
    yield from K.mlx5e_remove(pdev)
    if sem is not None:
        yield up_write(sem)


def _hca_devcom_sem(pdev):
    # model-only helper: &devcom->comp->sem of a PF's MLX5_DEVCOM_HCA_PORTS component
    if pdev.is_virtfn:
        return None
    if getattr(pdev, "hca_devcom_sem", None) is None:
        pdev.hca_devcom_sem = RWSem(f"&comp->sem {pdev.bdf}", "&comp->sem")
    return pdev.hca_devcom_sem


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/en_main.c", note="the mlx5e auxiliary driver: "
         "register_netdev takes rtnl (6.12/7.2: in _mlx5e_probe, 6417/6862)", v61=5925, v612=6498, v72=6943)
def mlx5e_probe(pdev):
    yield lock(W.rtnl_mutex)  # register_netdev
    yield unlock(W.rtnl_mutex)


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/en_main.c", note="unregister_netdev takes rtnl "
         "(6.12/7.2: in _mlx5e_remove, 6516/6971)", v61=5990, v612=6553, v72=7009)
def mlx5e_remove(pdev):
    yield lock(W.rtnl_mutex)  # unregister_netdev
    yield unlock(W.rtnl_mutex)


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
