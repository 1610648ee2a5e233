"""arch/powerpc/kernel/eeh_driver.c: EEH recovery of a frozen Partitionable Endpoint (PE).

Mirrors eeh_driver.c of v6.1, v6.12 and v7.2: the functions start at the
same lines in the three trees and have the same lock structure; the two
differences are explicit variants (``eeh_handle_normal_event``).

Lock skeleton: ``eeh_handle_normal_event`` runs in the ``eehd`` kernel
thread (:mod:`.eeh_event`) and holds ``pci_rescan_remove_lock`` for the
whole recovery, every exit included.  Each broadcast (``eeh_pe_report``)
takes ``device_lock`` of each device around its driver's ``err_handler``
callback (``eeh_pe_report_edev``).  ``eeh_reset_device`` removes devices
with ``pci_stop_and_remove_bus_device`` (``device_lock`` to unbind, then
``pci_bus_sem`` for writing; RRL already held) or, for a VF,
``pci_iov_remove_virtfn``, and adds them back with ``pci_hp_add_devices``
(driver probe under each device lock) or ``pci_iov_add_virtfn``.  So:
RRL → device_lock → driver callbacks, as sysfs ``remove`` and pciehp.

Per version: with no device present v6.1 just unlocks (``goto out``),
v6.12/v7.2 go to ``recover_failed`` (permanent failure: report, then remove
the bus's devices); on ``recover_failed`` v6.1 sets the channel state to
perm_failure *before* reporting the failure (so no driver is told: the
devices are no longer actionable), v6.12/v7.2 after.

The PE.  ``eeh BDF`` freezes the PE of BDF: for a VF its own VF PE
(``EEH_PE_VF``: the VF alone, on the VF's bus); for any other function the
bus PE of the bus BDF sits on (``EEH_PE_BUS``: every device on that bus and
below, as powernv builds PEs per bus).  Devices are visited bus first, then
the child PEs of the bridges on it (``eeh_for_each_pe``), each bus in list
order.  A PE on a root bus is treated as a bus PE (the PHB PE's rule that any
vote becomes NEED_RESET is not modelled).

Abstracted (no lock of the model): firmware calls (``eeh_wait_state``,
``eeh_pci_enable`` thaw: they succeed; ``eeh_pe_reset_full``,
``configure_bridge``, BAR restore), ``freeze_count`` (first freeze), interrupt
masking (``eeh_set_irq_state``: ``eeh_pcid_get`` is a module reference),
``ssleep(5)``, the stack trace, uevents, PE tree cleanup.  No PE is passed
through to a guest (``eeh_pe_passed``: vfio-pci's ``eeh_dev_open`` is not
modelled).  ``eeh_slot_presence_check`` reads the pciehp slot's Presence
Detect State (no attention indicator).  The per-device EEH state
(``struct eeh_dev``: ``mode``, ``in_error``) is touched only by the eehd
thread and kept as model-local state.
"""

from __future__ import annotations

from pcilock._engine_imports import note, read, write
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.drivers.pci.pcie.err import (
    PCI_ERS_RESULT_CAN_RECOVER,
    PCI_ERS_RESULT_DISCONNECT,
    PCI_ERS_RESULT_NEED_RESET,
    PCI_ERS_RESULT_NO_AER_DRIVER,
    PCI_ERS_RESULT_NONE,
    PCI_ERS_RESULT_RECOVERED,
    err_handler,
    pci_channel_io_frozen,
    pci_channel_io_normal,
    pci_channel_io_perm_failure,
)

EEH_PE_BUS, EEH_PE_VF = "bus", "vf"
EEH_DEV_NO_HANDLER, EEH_DEV_DISCONNECTED, EEH_DEV_REMOVED = "no-handler", "disconnected", "removed"


class EehPe:
    """``struct eeh_pe`` as far as recovery reads it (see module docstring)."""

    def __init__(self, type, bus, vf=None):
        self.type = type
        self.bus = bus
        self.vf = vf  # the VF of a VF PE
        self.vf_edev = EehDev(vf) if vf is not None else None
        self.state = set()  # EEH_PE_RECOVERING, EEH_PE_REMOVED (eehd only)

    def describe(self):
        return f"PE {self.vf.bdf if self.vf else self.bus.name}"


class EehDev:
    """``struct eeh_dev`` (model-local: only the eehd thread touches it)."""

    def __init__(self, pdev):
        self.pdev = pdev
        self.mode = set()
        self.in_error = False
        self.physfn = pdev.physfn if pdev.is_virtfn else None
        self.vf_index = pdev.vf_index


def _edev(pdev):
    # one eeh_dev per pci_dev; a device removed and scanned again gets a fresh one (its in_error is not
    # carried over: the re-added device's driver is not told slot_reset/resume)
    table = W.__dict__.setdefault("eeh_devs", {})
    e = table.get(pdev.bdf)
    if e is None or e.pdev is not pdev:
        e = table[pdev.bdf] = EehDev(pdev)
    return e


def _bus_edevs(bus):
    devs = list((yield read(bus, "devices")))
    out = [_edev(d) for d in devs]
    for d in devs:
        sub = yield read(d, "subordinate")
        if sub is not None:
            out += yield from _bus_edevs(sub)
    return out


def eeh_pe_edevs(pe):
    """eeh_for_each_pe(pe) eeh_pe_for_each_dev(...): the PE's devices (model-only helper)."""
    if pe.type == EEH_PE_VF:
        return [pe.vf_edev]
    return (yield from _bus_edevs(pe.bus))


def eeh_pe_bus_get_nolock(pe):
    return pe.bus


@mirrors("arch/powerpc/kernel/eeh_driver.c", v61=68, v612=68, v72=68)
def pci_ers_merge_result(old, new):
    prio = {PCI_ERS_RESULT_NONE: 1, PCI_ERS_RESULT_NO_AER_DRIVER: 2, PCI_ERS_RESULT_RECOVERED: 3,
            PCI_ERS_RESULT_CAN_RECOVER: 4, PCI_ERS_RESULT_DISCONNECT: 5, PCI_ERS_RESULT_NEED_RESET: 6}
    return new if prio.get(new, 0) > prio.get(old, 0) else old


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="pdev, not perm_failure, not removed, PE not passed",
         v61=81, v612=81, v72=81)
def eeh_edev_actionable(edev):
    if edev.pdev is None:
        return False
    if (yield read(edev.pdev, "error_state")) == pci_channel_io_perm_failure:
        return False
    if EEH_DEV_REMOVED in edev.mode:
        return False
    return True


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="dev->driver; try_module_get (always succeeds)",
         v61=104, v612=104, v72=104)
def eeh_pcid_get(pdev):
    if pdev is None:
        return None
    return (yield read(pdev, "pci_driver"))


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="plain store of pdev->error_state of actionable devices",
         v61=216, v612=216, v72=216)
def eeh_set_channel_state(root, s):
    for edev in (yield from eeh_pe_edevs(root)):
        if (yield from K.eeh_edev_actionable(edev)):
            yield write(edev.pdev, "error_state", s)


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="device_lock around the callback", v61=253, v612=253,
         v72=253)
def eeh_pe_report_edev(edev, fn, result):
    pdev = edev.pdev
    if pdev is not None:
        yield from K.get_device(pdev)
    if pdev is None:
        if result is not None:
            result[0] = PCI_ERS_RESULT_DISCONNECT
        return
    yield from K.device_lock(pdev)
    if (yield from K.eeh_edev_actionable(edev)):
        driver = yield from K.eeh_pcid_get(pdev)
        if driver is not None and getattr(driver, "err_handler", None) and \
                EEH_DEV_NO_HANDLER not in edev.mode:
            new_result = yield from getattr(K, fn)(edev, pdev, driver)
            if result is not None:
                result[0] = pci_ers_merge_result(result[0], new_result)
    yield from K.device_unlock(pdev)
    yield from K.put_device(pdev)


@mirrors("arch/powerpc/kernel/eeh_driver.c", v61=299, v612=299, v72=299)
def eeh_pe_report(name, root, fn, result):
    yield note(f"EEH: Beginning: '{name}'")
    for edev in (yield from eeh_pe_edevs(root)):
        yield from K.eeh_pe_report_edev(edev, fn, result)


@mirrors("arch/powerpc/kernel/eeh_driver.c", v61=323, v612=323, v72=323)
def eeh_report_error(edev, pdev, driver):
    cb = err_handler(driver, "error_detected")
    if cb is None:
        return PCI_ERS_RESULT_NONE
    rc = yield from cb(pdev, pci_channel_io_frozen)
    edev.in_error = True
    return rc


@mirrors("arch/powerpc/kernel/eeh_driver.c", v61=349, v612=349, v72=349)
def eeh_report_mmio_enabled(edev, pdev, driver):
    cb = err_handler(driver, "mmio_enabled")
    if cb is None:
        return PCI_ERS_RESULT_NONE
    return (yield from cb(pdev))


@mirrors("arch/powerpc/kernel/eeh_driver.c", v61=369, v612=369, v72=369)
def eeh_report_reset(edev, pdev, driver):
    cb = err_handler(driver, "slot_reset")
    if cb is None or not edev.in_error:
        return PCI_ERS_RESULT_NONE
    return (yield from cb(pdev))


@mirrors("arch/powerpc/kernel/eeh_driver.c", v61=422, v612=422, v72=422)
def eeh_report_resume(edev, pdev, driver):
    cb = err_handler(driver, "resume")
    if cb is None or not edev.in_error:
        return PCI_ERS_RESULT_NONE
    yield from cb(pdev)
    return PCI_ERS_RESULT_NONE


@mirrors("arch/powerpc/kernel/eeh_driver.c", v61=448, v612=448, v72=448)
def eeh_report_failure(edev, pdev, driver):
    cb = err_handler(driver, "error_detected")
    if cb is None:
        return PCI_ERS_RESULT_NONE
    return (yield from cb(pdev, pci_channel_io_perm_failure))


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="re-add a removed VF (pci_iov_add_virtfn; RRL held)",
         v61=466, v612=466, v72=466)
def eeh_add_virt_device(edev):
    if edev.physfn is None:
        return None
    driver = yield from K.eeh_pcid_get(edev.pdev)
    if driver is not None and getattr(driver, "err_handler", None):
        return None
    yield from K.pci_iov_add_virtfn(edev.physfn, edev.vf_index)
    # pcibios_bus_add_device -> eeh_probe_device: the eeh_dev is bound to the new pci_dev
    for d in (yield read(W.pci_bus_type, "klist", marked=True)):
        if d.is_virtfn and d.physfn is edev.physfn and d.vf_index == edev.vf_index:
            edev.pdev = d
    return None


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="keep devices whose driver is EEH-aware; remove the "
         "others (VF: pci_iov_remove_virtfn, else pci_stop_and_remove_bus_device; RRL held)",
         v61=491, v612=491, v72=491)
def eeh_rmv_device(edev, rmv_data):
    dev = edev.pdev
    if not (yield from K.eeh_edev_actionable(edev)) or dev.type != "endpoint":
        return
    if rmv_data is not None:
        driver = yield from K.eeh_pcid_get(dev)
        if driver is not None and err_handler(driver, "error_detected") and err_handler(driver, "slot_reset"):
            return
    edev.mode.add(EEH_DEV_DISCONNECTED)
    if rmv_data is not None:
        rmv_data["removed_dev_count"] += 1
    if edev.physfn is not None:
        yield from K.pci_iov_remove_virtfn(edev.physfn, edev.vf_index)
        edev.pdev = None
        if rmv_data is not None:
            rmv_data["removed_vf_list"].append(edev)
    else:
        yield from K.pci_stop_and_remove_bus_device(dev)


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="remove (EEH-unaware drivers / all), firmware reset, "
         "then re-add what was removed", v61=628, v612=628, v72=628)
def eeh_reset_device(pe, bus, rmv_data, driver_eeh_aware):
    if driver_eeh_aware or pe.type == EEH_PE_VF:
        for edev in (yield from eeh_pe_edevs(pe)):
            yield from K.eeh_rmv_device(edev, rmv_data)
    else:
        yield from K.pci_hp_remove_devices(bus)
    # eeh_pe_reset_full, configure_bridge, eeh_pe_restore_bars, eeh_clear_pe_frozen_state: firmware
    if not driver_eeh_aware or rmv_data["removed_dev_count"]:
        # ssleep(5); eeh_pe_traverse(pe, eeh_pe_detach_dev)
        if pe.type == EEH_PE_VF:
            yield from K.eeh_add_virt_device(pe.vf_edev)
        else:
            yield from K.pci_hp_add_devices(bus)
    return 0


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="pciehp slot: Presence Detect State (no lock)",
         v61=759, v612=759, v72=759)
def eeh_slot_presence_check(pdev):
    if pdev is None:
        return False
    if (yield read(pdev, "error_state")) == pci_channel_io_perm_failure:
        return False
    slot = yield read(pdev, "slot")
    hotplug = (yield read(slot, "hotplug")) if slot is not None else None
    if hotplug is None:
        return True
    return bool((yield read(hotplug.ctrl.hw, "presence", marked=True)))


def _head(pe):
    """The start of eeh_handle_normal_event: RRL, the bus, the device count (model-only split)."""
    yield from K.pci_lock_rescan_remove()
    bus = eeh_pe_bus_get_nolock(pe)
    devices = 0
    for edev in (yield from eeh_pe_edevs(pe)):
        if (yield from K.eeh_slot_presence_check(edev.pdev)):
            devices += 1
    return bus, devices


def _recover(pe, bus):
    """From the error_detected broadcast to the end of a successful recovery; False: recover_failed."""
    rmv_data = {"removed_vf_list": [], "removed_dev_count": 0}
    for edev in (yield from eeh_pe_edevs(pe)):
        edev.mode.discard(EEH_DEV_NO_HANDLER)
    yield from K.eeh_set_channel_state(pe, pci_channel_io_frozen)
    # eeh_set_irq_state(pe, false)
    result = [PCI_ERS_RESULT_NONE]
    yield from K.eeh_pe_report("error_detected(IO frozen)", pe, "eeh_report_error", result)
    if result[0] == PCI_ERS_RESULT_DISCONNECT:
        return False
    # eeh_wait_state(pe, ...): firmware; eeh_slot_error_detail
    if result[0] == PCI_ERS_RESULT_NONE:
        if (yield from K.eeh_reset_device(pe, bus, None, False)):
            return False
    if result[0] == PCI_ERS_RESULT_CAN_RECOVER:
        # eeh_pci_enable(pe, EEH_OPT_THAW_MMIO) succeeds
        yield from K.eeh_pe_report("mmio_enabled", pe, "eeh_report_mmio_enabled", result)
    if result[0] == PCI_ERS_RESULT_CAN_RECOVER:
        # eeh_pci_enable(pe, EEH_OPT_THAW_DMA) succeeds
        result[0] = PCI_ERS_RESULT_RECOVERED
    if result[0] == PCI_ERS_RESULT_NEED_RESET:
        if (yield from K.eeh_reset_device(pe, bus, rmv_data, True)):
            return False
        result[0] = PCI_ERS_RESULT_NONE
        yield from K.eeh_set_channel_state(pe, pci_channel_io_normal)
        yield from K.eeh_pe_report("slot_reset", pe, "eeh_report_reset", result)
    if result[0] in (PCI_ERS_RESULT_RECOVERED, PCI_ERS_RESULT_NONE):
        for edev in rmv_data["removed_vf_list"]:
            yield from K.eeh_add_virt_device(edev)
        yield from K.eeh_set_channel_state(pe, pci_channel_io_normal)
        yield from K.eeh_pe_report("resume", pe, "eeh_report_resume", None)
        for edev in (yield from eeh_pe_edevs(pe)):
            edev.mode.discard(EEH_DEV_NO_HANDLER)
            edev.in_error = False
        return True
    return False


def _failed_tail(pe, bus):
    pe.state.add("removed")  # eeh_pe_state_mark(pe, EEH_PE_REMOVED)
    if pe.type == EEH_PE_VF:
        for edev in (yield from eeh_pe_edevs(pe)):
            yield from K.eeh_rmv_device(edev, None)
        return False
    for edev in (yield from eeh_pe_edevs(pe)):
        edev.mode.add(EEH_DEV_REMOVED)
    if bus is not None:
        yield from K.pci_hp_remove_devices(bus)
    yield from K.pci_unlock_rescan_remove()
    return True


def _out(pe):
    # eeh_pe_cleanup; eeh_clear_slot_attention (no attention indicator); clear EEH_PE_RECOVERING
    pe.state.discard("recovering")
    yield from K.pci_unlock_rescan_remove()


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="6.1: an empty PE just unlocks; channel perm_failure set "
         "before the failure report", v61=834)
def eeh_handle_normal_event(pe):
    bus, devices = yield from _head(pe)
    if not devices:
        yield from _out(pe)
        return
    if (yield from _recover(pe, bus)):
        yield from _out(pe)
        return
    # recover_failed: (eeh_set_irq_state(pe, false))
    yield from K.eeh_set_channel_state(pe, pci_channel_io_perm_failure)
    yield from K.eeh_pe_report("error_detected(permanent failure)", pe, "eeh_report_failure", None)
    if (yield from _failed_tail(pe, bus)):
        return
    yield from _out(pe)


@mirrors("arch/powerpc/kernel/eeh_driver.c", note="6.12/7.2: an empty PE is a permanent failure; the "
         "failure reported before the channel goes perm_failure", v612=834, v72=834)
def eeh_handle_normal_event(pe):  # noqa: F811
    bus, devices = yield from _head(pe)
    if devices and (yield from _recover(pe, bus)):
        yield from _out(pe)
        return
    # recover_failed: (eeh_set_irq_state(pe, false))
    yield from K.eeh_pe_report("error_detected(permanent failure)", pe, "eeh_report_failure", None)
    yield from K.eeh_set_channel_state(pe, pci_channel_io_perm_failure)
    if (yield from _failed_tail(pe, bus)):
        return
    yield from _out(pe)
