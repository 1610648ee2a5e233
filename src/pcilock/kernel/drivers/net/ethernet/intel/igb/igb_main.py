"""Model driver igb (drivers/net/ethernet/intel/igb/igb_main.c).

PF driver that enables ``max_vfs`` VFs from ``.probe`` (``igb_probe`` →
``igb_probe_vfs`` → ``igb_enable_sriov`` → ``pci_enable_sriov``) and disables
them in ``.remove`` (``igb_disable_sriov`` → ``pci_disable_sriov``) before
``unregister_netdev``; ``igb_pci_sriov_configure`` enables/disables with
``reinit`` (``igb_sriov_reinit`` takes ``rtnl_lock`` after the PCI call; in
6.1 the reinit is done by ``igb_pci_enable_sriov``/``igb_pci_disable_sriov``
wrappers, same order).  Driver option: ``max_vfs``.

Error handlers (``igb_err_handler``): ``igb_io_error_detected`` (normal:
CAN_RECOVER; perm_failure: DISCONNECT; frozen: ``igb_down``, NEED_RESET),
``igb_io_slot_reset`` (re-enable, ``igb_reset``: no lock; RECOVERED),
``igb_io_resume`` (``igb_up``).  v7.2 takes ``rtnl_lock`` around
``igb_down`` in ``error_detected`` and around ``igb_up`` in ``resume``; v6.1
and v6.12 take no lock there.
"""

from __future__ import annotations

from pcilock._engine_imports import lock, unlock
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "igb"


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", v61=3705, v612=3733, v72=3754)
def igb_enable_sriov(pdev, num_vfs, reinit=False):
    if (yield from K.pci_num_vf(pdev)) == 0:
        err = yield from K.pci_enable_sriov(pdev, num_vfs)
        if err:
            return err
    if reinit:
        yield from K.igb_sriov_reinit(pdev)
    return 0


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", v61=3668, v612=3696, v72=3717)
def igb_disable_sriov(pdev, reinit=False):
    yield from K.pci_disable_sriov(pdev)
    if reinit:
        yield from K.igb_sriov_reinit(pdev)
    return 0


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", v61=9520, v612=3665, v72=3686)
def igb_sriov_reinit(pdev):
    yield lock(W.rtnl_mutex)
    yield unlock(W.rtnl_mutex)


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", v61=3185, v612=3184, v72=3204)
def igb_probe(pdev):
    max_vfs = pdev.spec.driver_options.get("max_vfs", 0)
    if max_vfs and pdev.is_physfn:
        yield from K.igb_enable_sriov(pdev, min(max_vfs, pdev.sriov.total_VFs), False)  # igb_probe_vfs
    yield lock(W.rtnl_mutex)  # register_netdev
    yield unlock(W.rtnl_mutex)
    return 0


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", v61=3815, v612=3851, v72=3871)
def igb_remove(pdev):
    if pdev.is_physfn:
        yield from K.igb_disable_sriov(pdev, False)
    yield lock(W.rtnl_mutex)  # unregister_netdev
    yield unlock(W.rtnl_mutex)


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", v61=9577, v612=9558, v72=9682)
def igb_pci_sriov_configure(pdev, num_vfs):
    if num_vfs == 0:
        return (yield from K.igb_disable_sriov(pdev, True))
    err = yield from K.igb_enable_sriov(pdev, num_vfs, True)
    return err if err else num_vfs


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.x: igb_down without rtnl_lock",
         v61=9596, v612=9581)
def igb_io_error_detected(pdev, state):
    if state == "normal":
        return 2  # PCI_ERS_RESULT_CAN_RECOVER
    if state == "perm_failure":
        return 4  # PCI_ERS_RESULT_DISCONNECT
    return 3  # PCI_ERS_RESULT_NEED_RESET
    yield


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="7.2: rtnl_lock around igb_down", v72=9705)
def igb_io_error_detected(pdev, state):  # noqa: F811
    if state == "normal":
        return 2
    if state == "perm_failure":
        return 4
    yield lock(W.rtnl_mutex)
    yield unlock(W.rtnl_mutex)
    return 3


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="no lock", v61=9627, v612=9612, v72=9739)
def igb_io_slot_reset(pdev):
    return 5  # PCI_ERS_RESULT_RECOVERED
    yield


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.x: igb_up without rtnl_lock", v61=9667,
         v612=9652)
def igb_io_resume(pdev):
    return
    yield


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="7.2: rtnl_lock around igb_up", v72=9778)
def igb_io_resume(pdev):  # noqa: F811
    yield lock(W.rtnl_mutex)
    yield unlock(W.rtnl_mutex)


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.igb_probe(d), remove=lambda d: K.igb_remove(d),
                    sriov_configure=lambda d, n: K.igb_pci_sriov_configure(d, n),
                    ids=lambda d: d.spec.driver == NAME)
    drv.err_handler = {"error_detected": lambda d, s: K.igb_io_error_detected(d, s),
                       "slot_reset": lambda d: K.igb_io_slot_reset(d),
                       "resume": lambda d: K.igb_io_resume(d)}
    return drv
