"""drivers/pci/hotplug/pciehp_core.c: the pciehp port service (probe, remove, presence check).

``pciehp_probe`` runs under ``device_lock`` of the service device, inside the
port's pcieport probe (``device_lock(port)``); ``pciehp_remove`` under the
service device's lock inside pcieport's ``.remove`` (see
:mod:`pcilock.kernel.drivers.pci.pcie.portdrv`).  The remove order is the
kernel's: ``pci_hp_del`` (drains ``power`` writers) → ``pcie_shutdown_notification``
(``free_irq`` waits for the IRQ thread) → ``cleanup_slot`` (``pci_hp_destroy``:
``pci_slot->hotplug = NULL``) → ``pciehp_release_ctrl`` (kfree).

v6.1/v6.12 register slot device number 0, v7.2 ``PCI_SLOT_ALL_DEVICES``
(``init_slot``).

:func:`boot_pciehp` builds the state ``pciehp_probe`` leaves behind for a
hotplug port bound at boot, without running it (the scenario starts from a
booted machine, as :mod:`pcilock.kernel.world` does for every driver).
"""

from __future__ import annotations

from pcilock._engine_imports import Mutex, down_read, lock, read, unlock, up_read, write
from pcilock.kernel._model import V61, V612, K, mirrors
from pcilock.kernel.include.linux.kernfs import KernfsNode
from pcilock.kernel.include.linux.pci import PciSlot
from pcilock.kernel.include.linux.pci_hotplug import HotplugSlot

from .pciehp import BLINKINGOFF_STATE, BLINKINGON_STATE, OFF_STATE, ON_STATE, SLTSTA_PDC, Controller
from .pciehp_hpc import hotplug_depth_at_setup, notification_cmd

ENODEV = -19
PCI_SLOT_ALL_DEVICES = 0xfeff

HOTPLUG_OPS = {"enable_slot": "pciehp_sysfs_enable_slot", "disable_slot": "pciehp_sysfs_disable_slot",
               "reset_slot": "pciehp_reset_slot"}


def slot_devnr(version):
    return 0 if version in (V61, V612) else PCI_SLOT_ALL_DEVICES


@mirrors("drivers/pci/hotplug/pciehp_core.c", note="6.x: device number 0; 7.2: PCI_SLOT_ALL_DEVICES",
         v61=50, v612=51)
def init_slot(ctrl):
    ctrl.hotplug_slot = HotplugSlot(HOTPLUG_OPS, ctrl)
    sub = yield read(ctrl.port, "subordinate")
    return (yield from K.__pci_hp_initialize(ctrl.hotplug_slot, sub, 0, _psn(ctrl)))


@mirrors("drivers/pci/hotplug/pciehp_core.c", v72=51)
def init_slot(ctrl):  # noqa: F811
    ctrl.hotplug_slot = HotplugSlot(HOTPLUG_OPS, ctrl)
    sub = yield read(ctrl.port, "subordinate")
    return (yield from K.__pci_hp_initialize(ctrl.hotplug_slot, sub, PCI_SLOT_ALL_DEVICES, _psn(ctrl)))


def _psn(ctrl):
    spec = ctrl.port.spec
    return str(spec.slot if spec is not None and spec.slot is not None else 0)


@mirrors("drivers/pci/hotplug/pciehp_core.c", v61=89, v612=90, v72=91)
def cleanup_slot(ctrl):
    yield from K.pci_hp_destroy(ctrl.hotplug_slot)


@mirrors("drivers/pci/hotplug/pciehp_core.c", v61=165, v612=166, v72=167)
def pciehp_check_presence(ctrl):
    yield down_read(ctrl.reset_lock, ctrl.depth)
    yield lock(ctrl.state_lock)
    occupied = yield from K.pciehp_card_present_or_link_active(ctrl)
    state = yield read(ctrl, "state")
    if (occupied > 0 and state in (OFF_STATE, BLINKINGON_STATE)) or \
            (not occupied and state in (ON_STATE, BLINKINGOFF_STATE)):
        yield from K.pciehp_request(ctrl, SLTSTA_PDC)
    yield unlock(ctrl.state_lock)
    yield up_read(ctrl.reset_lock)


@mirrors("drivers/pci/hotplug/pciehp_core.c", v61=183, v612=184, v72=185)
def pciehp_probe(dev):
    sub = yield read(dev.port, "subordinate")
    if sub is None:
        return ENODEV
    ctrl = yield from K.pcie_init(dev)
    dev.service_data = ctrl  # set_service_data
    rc = yield from K.init_slot(ctrl)
    if rc:
        yield from K.pciehp_release_ctrl(ctrl)
        return ENODEV
    rc = yield from K.pcie_init_notification(ctrl)
    if rc:
        yield from K.cleanup_slot(ctrl)
        yield from K.pciehp_release_ctrl(ctrl)
        return ENODEV
    yield from K.pci_hp_add(ctrl.hotplug_slot)
    yield from K.pciehp_check_presence(ctrl)
    return 0


@mirrors("drivers/pci/hotplug/pciehp_core.c", v61=243, v612=244, v72=245)
def pciehp_remove(dev):
    ctrl = dev.service_data  # get_service_data
    yield from K.pci_hp_del(ctrl.hotplug_slot)
    yield from K.pcie_shutdown_notification(ctrl)
    yield from K.cleanup_slot(ctrl)
    yield from K.pciehp_release_ctrl(ctrl)


def new_slot_hw(port, attrs):
    """The hotplug port's registers and interrupt vector (hardware, :func:`.pciehp.build_slot_hw`),
    found by the port's address each time its ``pci_dev`` is set up (at boot or when enumerated)."""
    hw = attrs["slot_hw"][port.bdf]
    port.slot_hw = hw
    return hw


def boot_pciehp(svc, attrs, version):
    """What pciehp_probe left behind for a port bound at boot (no model events)."""
    from pcilock.kernel.kernel.irq.manage import IrqAction

    port = svc.port
    hw = new_slot_hw(port, attrs)
    attrs.setdefault("pci_hp_mutex", Mutex("pci_hp_mutex"))
    ctrl = Controller(svc, hotplug_depth_at_setup(version, port))
    svc.service_data = ctrl
    ctrl.poke("state", ON_STATE if hw.peek("presence") else OFF_STATE)
    # init_slot -> pci_hp_initialize -> pci_create_slot
    bus = port.peek("subordinate")
    spec = port.spec
    number = spec.slot if spec is not None and spec.slot is not None else 0
    slot = PciSlot(bus, number)
    slot.devnr = slot_devnr(version)
    attrs["slots"][slot.name] = slot
    port.port_slot = slot
    hs = HotplugSlot(HOTPLUG_OPS, ctrl)
    ctrl.hotplug_slot = hs
    hs.poke("pci_slot", slot)
    slot.poke("hotplug", hs)
    # pcie_init_notification: request_threaded_irq + pcie_enable_notification
    hw.irq.action = IrqAction(f"pciehp {port.bdf}", "pciehp_isr", "pciehp_ist", ctrl)
    hw.poke("sltctl", notification_cmd(ctrl))
    ctrl.poke("notification_enabled", True)
    # pci_hp_add -> fs_add_slot
    hs.kn["power"] = KernfsNode(f"slots/{slot.name}", "power")
    attrs["hotplug_ctrls"][port.bdf] = ctrl
    return ctrl


__all__ = ["write"]
