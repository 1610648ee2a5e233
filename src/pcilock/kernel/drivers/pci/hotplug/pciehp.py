"""drivers/pci/hotplug/pciehp.h: ``struct controller``, plus the hotplug port's registers (hardware).

``struct controller`` (pciehp.h, v6.1/v6.12/v7.2: same members for the model):
``pending_events`` (atomic_t), ``state`` (under ``state_lock``),
``ist_running``, ``request_result``, ``notification_enabled`` and ``dsn``
are shared fields; ``ctrl_lock``, ``state_lock`` are mutexes, ``reset_lock``
an rw semaphore (one lock class for every port, ``init_rwsem`` in
``pcie_init``; acquisitions use ``ctrl->depth`` as lockdep subclass).

``requester`` is the wait queue the sysfs ``power`` writers sleep on
(``wait_event(ctrl->requester, ...)``) and every run of the IRQ thread wakes
at its end.  The model keeps in it the completion of the *current*
generation: the end of an IRQ thread run installs a fresh one and completes
the old one (``complete_all``), so a writer that took the completion before
checking its condition is woken by the next run's end, as ``prepare_to_wait``
then the check then ``schedule`` is by ``wake_up``.  The model threads that
will end the current generation (the running IRQ thread, as far as it is
known) are its providers, so a writer waiting for an IRQ thread that waits for
the writer is a wait-for cycle.

Slot capabilities of every modelled port: no power controller, no MRL
sensor (``POWER_CTRL``/``MRL_SENS`` false), presence detect and Data Link
Layer Link Active reporting present, MSI mode, in-band presence not disabled
(a typical NVMe U.2/E3 bay).  An Attention Button (``ATTN_BUTTN``) only where
the scenario says ``attention_button = true``.  Without one,
``pcie_enable_notification`` enables PDCE and ``pciehp_reset_slot`` (v6.x)
masks PDCE and DLLSCE during a reset; with one, it enables ABPE instead of
PDCE and the reset masks DLLSCE only.

:class:`SlotHw` is the hardware, not a kernel structure: the port's Slot
Status event bits (RW1C), the notification enables written to Slot Control,
Presence Detect State, Data Link Layer Link Active, and ``gone`` (the port
itself no longer answers config reads: its card was pulled from a slot above).
There is one per hotplug port of the topology, made with the world
(:func:`build_slot_hw`, ``W.slot_hw``), whether or not the port is present or
enumerated: the ``pci_dev`` of the port, each time it is enumerated, finds its
registers there (``pcie_init``), so a port enumerated at run time reads the
slot as it is then, and hotplug events act on the hardware by address.
Every access to it is marked: the kernel's side is a config access (under
``pci_lock``), the other side is the device; neither is a data race.
A change of a status bit while its enable and HPIE are set and all enabled
status bits were clear sends an MSI (PCIe r6.0 sec 6.7.3.4): the model starts
a hard-IRQ thread (:func:`pcilock.kernel.kernel.irq.manage.raise_irq`).  A
Slot Control write that unmasks an event whose status bit is already set may
or may not send one (optional in the spec): both are explored
(:func:`hw_control_written`, which says where).  Presence and link of a pull or an insertion
change in one step (one MSI for PDC and DLLSC together); hardware that
reports them apart, with two interrupts, is not modelled.

Mirrors the struct definitions of drivers/pci/hotplug/pciehp.h (no functions).
"""

from __future__ import annotations

from pcilock._engine_imports import Completion, Mutex, RWSem, Shared, choose, read, rmw, spawn
from pcilock.kernel.kernel.workqueue import DelayedWork

# Slot Status (include/uapi/linux/pci_regs.h)
SLTSTA_ABP, SLTSTA_PFD, SLTSTA_MRLSC, SLTSTA_PDC, SLTSTA_CC = 0x1, 0x2, 0x4, 0x8, 0x10
SLTSTA_DLLSC = 0x100
# Slot Control
SLTCTL_ABPE, SLTCTL_PFDE, SLTCTL_MRLSCE = 0x1, 0x2, 0x4
SLTCTL_PDCE, SLTCTL_CCIE, SLTCTL_HPIE = 0x8, 0x10, 0x20
SLTCTL_DLLSCE = 0x1000
# pciehp.h
DISABLE_SLOT = 1 << 16
RERUN_ISR = 1 << 17
OFF_STATE, BLINKINGON_STATE, BLINKINGOFF_STATE, POWERON_STATE, POWEROFF_STATE, ON_STATE = range(6)
STATE_NAMES = ("OFF", "BLINKINGON", "BLINKINGOFF", "POWERON", "POWEROFF", "ON")
SAFE_REMOVAL, SURPRISE_REMOVAL = True, False

# status bit -> its enable bit in Slot Control
_ENABLE_OF = {SLTSTA_ABP: SLTCTL_ABPE, SLTSTA_PFD: SLTCTL_PFDE, SLTSTA_MRLSC: SLTCTL_MRLSCE,
              SLTSTA_PDC: SLTCTL_PDCE, SLTSTA_CC: SLTCTL_CCIE, SLTSTA_DLLSC: SLTCTL_DLLSCE}


def enabled_events(sltctl):
    return sum(b for b, e in _ENABLE_OF.items() if sltctl & e)


class SlotHw(Shared):
    """The hotplug port's slot registers (hardware state, see module docstring)."""

    _shared_ = {"sltsta": 0, "sltctl": 0, "presence": True, "link_active": True, "gone": False}

    def __init__(self, bdf, attn_button=False, **kw):
        super().__init__(**kw)
        self.bdf = bdf
        self.attn_button = attn_button  # Slot Capabilities: Attention Button Present (read-only)
        self.irq = None  # IrqDesc of the port's hotplug interrupt vector

    def describe(self):
        return f"slot registers {self.bdf}"


def build_slot_hw(attrs, topo):
    """The registers of every hotplug port of *topo* at the start of an execution (``W.slot_hw``).

    A port not present at the start does not answer (``gone``); the slot of a present one is
    occupied when a function below it is present.
    """
    from pcilock.kernel.kernel.irq.manage import new_irq_desc

    hws = attrs.setdefault("slot_hw", {})
    for spec in topo.devices:
        if spec.hotplug:
            occupied = any(d.parent == spec.bdf and d.present for d in topo.devices)
            hw = SlotHw(spec.bdf, attn_button=spec.attention_button, presence=occupied,
                        link_active=occupied, gone=not spec.present)
            hw.irq = new_irq_desc(attrs, f"pciehp {spec.bdf}")
            hws[spec.bdf] = hw


class Controller(Shared):
    """``struct controller`` (pciehp.h)."""

    _shared_ = {
        "pending_events": 0,
        "state": OFF_STATE,
        "ist_running": False,
        "request_result": 0,
        "notification_enabled": False,
        "power_fault_detected": False,
        "dsn": None,
        "requester": None,  # wait_queue_head_t: the completion of the current generation (docstring)
    }
    _owns_ = ("ctrl_lock", "state_lock", "reset_lock")

    def __init__(self, pcie, depth, **kw):
        port = pcie.port
        kw.setdefault("requester", requester_generation(port.bdf))
        super().__init__(**kw)
        self.pcie = pcie  # the pcie_device (port service device)
        self.port = port
        self.depth = depth
        self.name = port.bdf
        self.hw = port.slot_hw
        self.slot_cap_attn_button = self.hw.attn_button  # pcie_init: ctrl->slot_cap
        self.slot_cap_power_ctrl = False
        self.slot_cap_mrl = False
        self.inband_presence_disabled = False
        self.ctrl_lock = Mutex(f"&ctrl->ctrl_lock {port.bdf}", "&ctrl->ctrl_lock")
        self.state_lock = Mutex(f"&ctrl->state_lock {port.bdf}", "&ctrl->state_lock")
        self.reset_lock = RWSem(f"&ctrl->reset_lock {port.bdf}", "&ctrl->reset_lock")
        self.hotplug_slot = None  # HotplugSlot (struct hotplug_slot, embedded)
        # INIT_DELAYED_WORK(&ctrl->button_work, pciehp_queue_pushbutton_work)
        self.button_work = DelayedWork("pciehp_queue_pushbutton_work", (self,), f"button_work {port.bdf}")

    def describe(self):
        return f"pciehp ctrl {self.name}"


def requester_generation(name):
    """A fresh generation of ``ctrl->requester`` (model-only, see the module docstring)."""
    return Completion(f"&ctrl->requester {name}")


def ATTN_BUTTN(ctrl):
    return ctrl.slot_cap_attn_button


def POWER_CTRL(ctrl):
    return ctrl.slot_cap_power_ctrl


def MRL_SENS(ctrl):
    return ctrl.slot_cap_mrl


# -- hardware: what the port's slot registers do (not kernel code) ------------------------------

def hw_event(hw, bits):
    """Set Slot Status *bits*; send an MSI if the port would (see module docstring)."""
    from pcilock.kernel.kernel.irq.manage import raise_irq

    old = yield rmw(hw, "sltsta", lambda v: v | bits)
    ctl = yield read(hw, "sltctl", marked=True)
    en = enabled_events(ctl)
    if hw.irq is not None and ctl & SLTCTL_HPIE and bits & en and not old & en:
        yield raise_irq(hw.irq)


def hw_control_written(hw, old_ctl, new_ctl):
    """Slot Control written: an event whose status bit is already set and that this write enables
    *may* make the port send an MSI: optional per PCIe r6.0 sec 6.7.3.4 (pciehp_core.c says so
    above pciehp_check_presence), so both are explored (a ``choose``).

    Only for an unmask with notifications already on (HPIE set before and after: 6.x
    ``pciehp_reset_slot`` re-enabling PDCE/DLLSCE), where nothing else looks at the latched
    event.  The first enable at probe (``pcie_enable_notification``, HPIE off before) is left
    without the optional MSI: ``pciehp_check_presence`` right after it reads presence and link
    and requests what the event would have (a coverage choice: the extra IST run it would add
    multiplied the executions of nested-port scenarios several times).
    """
    from pcilock.kernel.kernel.irq.manage import raise_irq

    if hw.irq is None or not new_ctl & SLTCTL_HPIE or not old_ctl & SLTCTL_HPIE:
        return
    was = enabled_events(old_ctl)
    if not enabled_events(new_ctl) & ~was:
        return  # nothing newly enabled (a mask, a disable): no edge possible, no register read
    sta = yield read(hw, "sltsta", marked=True)
    if sta & enabled_events(new_ctl) and not sta & was:
        if (yield choose(2, f"{hw.bdf}: MSI for an event set before it was enabled")):
            yield raise_irq(hw.irq)


def hw_link_change(hw, presence, link):
    """Presence and/or link state change of the slot; the status bits the port latches."""
    bits = 0
    if (yield read(hw, "presence", marked=True)) != presence:
        bits |= SLTSTA_PDC
    if (yield read(hw, "link_active", marked=True)) != link:
        bits |= SLTSTA_DLLSC
    yield rmw(hw, "presence", lambda _: presence)
    yield rmw(hw, "link_active", lambda _: link)
    if bits:
        yield from hw_event(hw, bits)


def hw_secondary_bus_reset(bridge):
    """A Secondary Bus Reset of *bridge*: the link goes down and retrains (DLLSC twice)."""
    hw = getattr(bridge, "slot_hw", None)
    if hw is None:
        return
    if (yield read(hw, "gone", marked=True)) or not (yield read(hw, "link_active", marked=True)):
        return
    yield from hw_event(hw, SLTSTA_DLLSC)


def spawn_work(fn, args, name):
    return spawn(fn, *args, name=name)
