"""Model driver mlx5_core: the e-switch part of SR-IOV enable/disable
(drivers/net/ethernet/mellanox/mlx5/core/eswitch.c), called under the PF's devlink lock.

Per version: 6.1 takes ``esw->mode_lock`` (an rwsem, write) around loading or unloading the
VF vports; 6.12 takes no lock of its own; 7.2 blocks the representors (``reps_lock``).  In
switchdev mode (driver option ``switchdev = 1``) loading a VF vport loads its representor,
whose netdev is registered (en_rep.c ``mlx5e_vport_vf_rep_load`` -> ``register_netdev``:
rtnl), and unloading unregisters it (rtnl).  In legacy mode (the default) there is no
representor.  LAG changes, the e-switch workqueue and the firmware commands take no lock
of the model.
"""

from __future__ import annotations

from pcilock._engine_imports import Mutex, RWSem, down_write, lock, unlock, up_write
from pcilock.kernel._model import W, mirrors


def _esw(pdev):
    # model-only helper: the e-switch locks of a PF, made on first use
    if getattr(pdev, "esw_mode_lock", None) is None:
        pdev.esw_mode_lock = RWSem(f"&esw->mode_lock {pdev.bdf}", "&esw->mode_lock")
        pdev.esw_reps_lock = Mutex(f"&esw->offloads.reps_lock {pdev.bdf}", "&esw->offloads.reps_lock")


def _switchdev(pdev):
    return bool(pdev.spec is not None and pdev.spec.driver_options.get("switchdev"))


def _vf_reps(pdev):
    # mlx5_eswitch_(un)load_vf_vports: in switchdev mode, each VF representor's netdev (rtnl)
    if _switchdev(pdev):
        yield lock(W.rtnl_mutex)
        yield unlock(W.rtnl_mutex)


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/eswitch.c", note="6.1: mode_lock (write)", v61=1329)
def mlx5_eswitch_enable(pdev, num_vfs):
    _esw(pdev)
    yield down_write(pdev.esw_mode_lock)
    yield from _vf_reps(pdev)
    yield up_write(pdev.esw_mode_lock)
    return 0


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/eswitch.c", note="6.12: no e-switch lock", v612=1544)
def mlx5_eswitch_enable(pdev, num_vfs):  # noqa: F811
    yield from _vf_reps(pdev)
    return 0


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/eswitch.c", note="7.2: mlx5_esw_reps_block (reps_lock)",
         v72=1933)
def mlx5_eswitch_enable(pdev, num_vfs):  # noqa: F811
    _esw(pdev)
    yield lock(pdev.esw_reps_lock)
    yield from _vf_reps(pdev)
    yield unlock(pdev.esw_reps_lock)
    return 0


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/eswitch.c", note="6.1: mode_lock (write)", v61=1365)
def mlx5_eswitch_disable_sriov(pdev, clear_vf):
    _esw(pdev)
    yield down_write(pdev.esw_mode_lock)
    yield from _vf_reps(pdev)
    yield up_write(pdev.esw_mode_lock)


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/eswitch.c", note="6.12: no e-switch lock", v612=1588)
def mlx5_eswitch_disable_sriov(pdev, clear_vf):  # noqa: F811
    yield from _vf_reps(pdev)


@mirrors("drivers/net/ethernet/mellanox/mlx5/core/eswitch.c", note="7.2: mlx5_esw_reps_block (reps_lock)",
         v72=1982)
def mlx5_eswitch_disable_sriov(pdev, clear_vf):  # noqa: F811
    _esw(pdev)
    yield lock(pdev.esw_reps_lock)
    yield from _vf_reps(pdev)
    yield unlock(pdev.esw_reps_lock)
