"""Model driver igb (drivers/net/ethernet/intel/igb/igb_main.c).

PF driver that enables ``max_vfs`` VFs from ``.probe`` (``igb_probe`` →
``igb_sw_init`` caps ``max_vfs`` at 7 → ``igb_probe_vfs`` → ``igb_enable_sriov``
→ ``pci_enable_sriov``) and disables them in ``.remove`` (``igb_disable_sriov``
→ ``pci_disable_sriov``) before ``unregister_netdev``; ``igb_pci_sriov_configure``
enables/disables with ``reinit`` (``igb_sriov_reinit`` takes ``rtnl_lock``): v6.1 through the
``igb_pci_enable_sriov``/``igb_pci_disable_sriov`` wrappers, which reinit
after the PCI call; v6.12/v7.2 ``igb_enable_sriov`` reinits *before*
``pci_enable_sriov`` and ``igb_disable_sriov`` after ``pci_disable_sriov``.
Driver option: ``max_vfs``.

``igb_enable_sriov`` refuses more than 7 VFs (-EPERM) and records the VFs in
``adapter->vf_data``; ``igb_disable_sriov`` disables SR-IOV only when
``vf_data`` is set and no VF is assigned (``pci_vfs_assigned``: no model
driver sets PCI_DEV_FLAGS_ASSIGNED, so never).  ``vf_data`` is a field of
:class:`IgbAdapter`, touched only under the PF's device lock.

Not modelled: ``pci_sriov_set_totalvfs(pdev, 7)`` in ``igb_probe_vfs`` (the
model's ``sriov_numvfs_store`` compares with TotalVFs; with a PF declaring
more than 7 VFs the kernel rejects ``echo 8 > sriov_numvfs`` with -ERANGE
before taking any lock, the model only after ``igb_enable_sriov``'s -EPERM);
``igb_remove``'s ``cancel_work_sync(&adapter->reset_task)`` (``igb_reset_task``
takes rtnl; the task is queued by the TX timeout and the watchdog, which the
model never runs, so the cancel finds it idle).

Error handlers (``igb_err_handler``): ``igb_io_error_detected`` (normal:
CAN_RECOVER; perm_failure: DISCONNECT; frozen: ``igb_down``, NEED_RESET),
``igb_io_slot_reset`` (re-enable, ``igb_reset``: no lock; RECOVERED),
``igb_io_resume`` (``igb_up``).  v7.2 takes ``rtnl_lock`` around
``igb_down`` in ``error_detected`` and around ``igb_up`` in ``resume``; v6.1
and v6.12 take no lock there.
"""

from __future__ import annotations

from pcilock._engine_imports import Shared, lock, read, unlock, write
from pcilock.kernel._model import V61, K, W, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "igb"
EPERM = -1
IGB_MAX_VFS = 7  # igb_sw_init / igb_probe_vfs / igb_enable_sriov


class IgbAdapter(Shared):
    """The part of ``struct igb_adapter`` the model needs: ``vf_data`` (VFs allocated by the driver)."""

    _shared_ = {"vf_data": False}

    def __init__(self, pdev, **kw):
        super().__init__(**kw)
        self.pdev = pdev

    def describe(self):
        return f"igb adapter {self.pdev.bdf}"


def adapter(pdev):
    """``netdev_priv(pci_get_drvdata(pdev))`` (created on first use, model-only)."""
    a = getattr(pdev, "igb_adapter", None)
    if a is None:
        a = pdev.igb_adapter = IgbAdapter(pdev)
    return a


def _boot(pdev):
    """A PF bound at boot with VFs enabled: the driver allocated them (no model events)."""
    spec = pdev.spec
    adapter(pdev).poke("vf_data", bool(pdev.is_physfn and spec is not None and spec.num_vfs))


def _enable_head(pdev, num_vfs):
    # igb_enable_sriov up to the VF allocation; returns (err or None, old_vfs)
    old_vfs = yield from K.pci_num_vf(pdev)
    if num_vfs > IGB_MAX_VFS:  # or no MSI-X
        return EPERM, old_vfs
    if not num_vfs:
        return 0, old_vfs
    # vfs_allocated_count = old_vfs or num_vfs; kcalloc(vf_data), vf_mac_list, igb_vf_configure
    yield write(adapter(pdev), "vf_data", True, marked=True)
    return None, old_vfs


def _enable_sriov_tail(pdev, count):
    err = yield from K.pci_enable_sriov(pdev, count)
    if err:  # err_out: free vf_mac_list and vf_data
        yield write(adapter(pdev), "vf_data", False, marked=True)
    return err


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.1: no reinit (the caller igb_pci_enable_sriov "
         "does it after)", v61=3705)
def igb_enable_sriov(pdev, num_vfs):
    err, old_vfs = yield from _enable_head(pdev, num_vfs)
    if err is not None:
        return err
    if not old_vfs:  # only call pci_enable_sriov() if no VFs are allocated already
        return (yield from _enable_sriov_tail(pdev, num_vfs))
    return 0


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.12/7.2: igb_sriov_reinit (rtnl) *before* "
         "pci_enable_sriov", v612=3733, v72=3754)
def igb_enable_sriov(pdev, num_vfs, reinit):  # noqa: F811
    err, old_vfs = yield from _enable_head(pdev, num_vfs)
    if err is not None:
        return err
    if reinit:
        err = yield from K.igb_sriov_reinit(pdev)
        if err:
            yield write(adapter(pdev), "vf_data", False, marked=True)
            return err
    if not old_vfs:
        return (yield from _enable_sriov_tail(pdev, num_vfs))
    return 0


def _disable_sriov(pdev):
    if (yield read(adapter(pdev), "vf_data", marked=True)):
        # pci_vfs_assigned(pdev): 0 in the model (see module docstring)
        yield from K.pci_disable_sriov(pdev)
        # msleep(500); free vf_data under adapter->vfs_lock (a spinlock); msleep(100)
        yield write(adapter(pdev), "vf_data", False, marked=True)


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.1: no reinit", v61=3668)
def igb_disable_sriov(pdev):
    yield from _disable_sriov(pdev)
    return 0


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.12/7.2: igb_sriov_reinit at the end if reinit",
         v612=3696, v72=3717)
def igb_disable_sriov(pdev, reinit):  # noqa: F811
    yield from _disable_sriov(pdev)
    if reinit:
        return (yield from K.igb_sriov_reinit(pdev))
    return 0


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="rtnl_lock around the interface reset",
         v61=9520, v612=3665, v72=3686)
def igb_sriov_reinit(pdev):
    yield lock(W.rtnl_mutex)
    yield unlock(W.rtnl_mutex)
    return 0


def _sriov_args(reinit):
    # v6.1 igb_enable_sriov/igb_disable_sriov have no reinit parameter
    return () if W.version == V61 else (reinit,)


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="igb_sw_init caps max_vfs at 7; igb_probe_vfs",
         v61=3185, v612=3184, v72=3204)
def igb_probe(pdev):
    max_vfs = min(pdev.spec.driver_options.get("max_vfs", 0), IGB_MAX_VFS)  # igb_sw_init
    if pdev.is_physfn:  # igb_probe_vfs (pci_sriov_set_totalvfs(pdev, 7): not modelled, see docstring)
        yield from K.igb_enable_sriov(pdev, max_vfs, *_sriov_args(False))
    yield lock(W.rtnl_mutex)  # register_netdev
    yield unlock(W.rtnl_mutex)
    return 0


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", v61=3815, v612=3851, v72=3871)
def igb_remove(pdev):
    # elided: cancel_work_sync(&adapter->reset_task), cancel_work_sync(&adapter->watchdog_task) (never queued)
    if pdev.is_physfn:  # CONFIG_PCI_IOV
        yield from K.igb_disable_sriov(pdev, *_sriov_args(False))
    yield lock(W.rtnl_mutex)  # unregister_netdev
    yield unlock(W.rtnl_mutex)


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.1: igb_enable_sriov, then igb_sriov_reinit",
         v61=9561)
def igb_pci_enable_sriov(pdev, num_vfs):
    err = yield from K.igb_enable_sriov(pdev, num_vfs)
    if err:
        return err
    err = yield from K.igb_sriov_reinit(pdev)
    return err if err else num_vfs


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.1: igb_disable_sriov, then igb_sriov_reinit",
         v61=9551)
def igb_pci_disable_sriov(pdev):
    err = yield from K.igb_disable_sriov(pdev)
    if not err:
        err = yield from K.igb_sriov_reinit(pdev)
    return err


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.1: through the igb_pci_*_sriov wrappers",
         v61=9577)
def igb_pci_sriov_configure(pdev, num_vfs):
    if num_vfs == 0:
        return (yield from K.igb_pci_disable_sriov(pdev))
    return (yield from K.igb_pci_enable_sriov(pdev, num_vfs))


@mirrors("drivers/net/ethernet/intel/igb/igb_main.c", note="6.12/7.2: reinit inside enable/disable",
         v612=9558, v72=9682)
def igb_pci_sriov_configure(pdev, num_vfs):  # noqa: F811
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
                    ids=lambda d: d.spec.driver == NAME, boot=_boot)
    drv.err_handler = {"error_detected": lambda d, s: K.igb_io_error_detected(d, s),
                       "slot_reset": lambda d: K.igb_io_slot_reset(d),
                       "resume": lambda d: K.igb_io_resume(d)}
    return drv
