"""drivers/pci/pcie/dpc.c: Downstream Port Containment, its threaded interrupt and the pciehp hand-shake.

Mirrors drivers/pci/pcie/dpc.c of v6.1, v6.12 and v7.2 (lines in each
``@mirrors``).  A port has DPC when its scenario device says ``dpc = true``
(root or downstream port; ``pdev->dpc_cap``); the DPC port service binds to
it at boot (``dpc_probe``: ``devm_request_threaded_irq(dpc_irq,
dpc_handler, IRQF_SHARED)``, DPC enabled for ERR_FATAL with its interrupt), on
the service's vector: the one of the DPC Capability's Interrupt Message Number,
which on the port :mod:`.portdrv` assumes (one MSI vector) is shared with the
port's other services (see :mod:`.aer`).

``dpc PORT`` (the scenario line) is the hardware: an ERR_FATAL below PORT
triggers containment.  DPC Trigger Status and DPC Interrupt Status are set,
the port disables its link (a hotplug port latches Data Link Layer State
Changed: pciehp's interrupt fires too) and the DPC interrupt is sent.
``dpc_irq`` (hard IRQ) acknowledges it and wakes the DPC IRQ thread,
``dpc_handler``: [v6.12/v7.2: the surprise-removal check] ``dpc_process_error``
(register reads and log only) and ``pcie_do_recovery(pdev, frozen,
dpc_reset_link)`` (:mod:`.err`: ``pci_bus_sem`` read across each broadcast,
``device_lock`` per device).  ``dpc_reset_link`` takes no lock: it sets
PCI_DPC_RECOVERING, clears Trigger Status (the link retrains: a second
link change on a hotplug port whose card is present), waits for the
secondary bus (``pci_bridge_wait_for_secondary_bus``: ``pci_bus_sem`` read
briefly), sets or clears PCI_DPC_RECOVERED, clears RECOVERING and wakes
``dpc_completed_waitqueue``.

``pci_dpc_recovered`` is what pciehp's IRQ thread calls on a link change
(``pciehp_ist``, all three bases): it waits until Trigger Status and
RECOVERING are clear, then test-and-clears RECOVERED; pciehp then ignores
the link change (:mod:`pcilock.kernel.drivers.pci.hotplug.pciehp_hpc`).

Abstracted: the wait is ``wait_event_timeout(..., 4 s)`` in the kernel; the
model waits without a timeout (a completion of the current containment,
completed by ``dpc_reset_link``'s wake-up).  The timeout only matters when
the recovery does not finish within 4 s (e.g. its thread is blocked on a
device lock for that long); such an interleaving, where pciehp goes on
before DPC recovered, is not explored, and a report whose wait-for chain
goes through this wait would be broken by the timeout in the kernel.  No
port has the Root Port PIO extensions (``dpc_rp_extensions``), so
``dpc_wait_rp_inactive`` is not reached; ``pcie_wait_for_link(pdev, false)``
finds the link already down; the model's ``pci_bridge_wait_for_secondary_bus``
always succeeds, so DPC recovery always reports RECOVERED.  The v6.12/v7.2
surprise-removal branch (``dpc_is_surprise_removal``: Surprise Down in the
port's AER status) is modelled but not reachable: ``dpc PORT`` raises an
ERR_FATAL trigger and a ``hotplug surprise-removal`` does not trigger DPC in
the model.  EDR (``edr.c``, firmware-first DPC) is not modelled.
"""

from __future__ import annotations

from pcilock._engine_imports import Completion, Shared, complete_all, note, read, rmw, wait_for_completion
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.kernel.irq.manage import IRQ_HANDLED, IRQ_NONE, IRQ_WAKE_THREAD, IRQF_SHARED
from pcilock.kernel.userspace import op

from .err import PCI_ERS_RESULT_DISCONNECT, PCI_ERS_RESULT_RECOVERED, pci_channel_io_frozen

ENODEV = -19
PCI_DPC_RECOVERED, PCI_DPC_RECOVERING = 1, 2
PCIE_PORT_SERVICE_DPC = 8


class DpcHw(Shared):
    """The port's DPC registers (hardware, not a kernel structure).

    ``trigger``/``interrupt``: DPC Status Trigger and Interrupt Status;
    ``enabled``: DPC Control's ERR_FATAL trigger enable and interrupt enable
    (set by ``dpc_enable``, cleared by ``dpc_disable``); ``surpdn``: Surprise
    Down in the AER Uncorrectable Error Status (never set in the model);
    ``section``: model-only, the completion of the current containment, the
    wake-up of ``dpc_completed_waitqueue`` that ends it.
    """

    _shared_ = {"trigger": False, "interrupt": False, "enabled": False, "surpdn": False, "section": None}

    def __init__(self, port, **kw):
        super().__init__(**kw)
        self.port = port
        self.irq = None

    def describe(self):
        return f"DPC registers {self.port.bdf}"


def new_dpc_hw(port, attrs):
    """The port's DPC registers (made once per ``pci_dev``); their vector is set by :mod:`.portdrv`
    when the port's vectors are allocated."""
    hw = getattr(port, "dpc_hw", None)
    if hw is None:
        hw = port.dpc_hw = DpcHw(port)
    return hw


def has_dpc_cap(port):
    """pdev->dpc_cap (pci_dpc_init at enumeration): the scenario's ``dpc = true``."""
    return port.spec is not None and getattr(port.spec, "dpc", False)


def boot_dpc(svc, attrs):
    """What dpc_probe left behind for a port bound at boot (no model events)."""
    from pcilock.kernel.kernel.irq.manage import IrqAction

    port = svc.port
    hw = new_dpc_hw(port, attrs)
    svc.irq.action = IrqAction(f"pcie-dpc {port.bdf}", "dpc_irq", "dpc_handler", port)
    svc.devm_irqs = [(svc.irq, port)]
    hw.poke("enabled", True)


# -- pciehp's side -----------------------------------------------------------------------------------

@mirrors("drivers/pci/pcie/dpc.c", note="Trigger Status clear and not RECOVERING", v61=78, v612=81, v72=81)
def dpc_completed(pdev):
    hw = pdev.dpc_hw
    if (yield read(hw, "trigger", marked=True)):
        return False
    if PCI_DPC_RECOVERING in (yield read(pdev, "priv_flags", marked=True)):
        return False
    return True


@mirrors("drivers/pci/pcie/dpc.c", note="wait_event_timeout(dpc_completed, 4 s) modelled without the timeout "
         "(module docstring); native DPC", v61=100, v612=103, v72=103)
def pci_dpc_recovered(pdev):
    if not has_dpc_cap(pdev) or getattr(pdev, "dpc_hw", None) is None:
        return False
    while not (yield from K.dpc_completed(pdev)):
        c = yield read(pdev.dpc_hw, "section", marked=True)
        if c is None:
            break
        yield wait_for_completion(c)
    old = yield rmw(pdev, "priv_flags", lambda f: f - {PCI_DPC_RECOVERED})
    return PCI_DPC_RECOVERED in old


def _wake_completed(hw):
    c = yield read(hw, "section", marked=True)
    if c is not None:
        yield complete_all(c)  # wake_up_all(&dpc_completed_waitqueue)


def _clear_trigger(pdev):
    """Write 1 to Trigger Status: the port leaves containment and retrains its link (hardware)."""
    from pcilock.kernel.drivers.pci.hotplug.pciehp import hw_link_change

    yield rmw(pdev.dpc_hw, "trigger", lambda _: False)
    slot_hw = getattr(pdev, "slot_hw", None)
    if slot_hw is not None and not (yield read(slot_hw, "gone", marked=True)):
        present = yield read(slot_hw, "presence", marked=True)
        yield from hw_link_change(slot_hw, present, present)


@mirrors("drivers/pci/pcie/dpc.c", note="no lock: RECOVERING, clear the trigger, wait for the secondary bus, "
         "RECOVERED, wake the waiters", v61=145, v612=148, v72=148)
def dpc_reset_link(pdev):
    yield rmw(pdev, "priv_flags", lambda f: f | {PCI_DPC_RECOVERING})
    # pcie_wait_for_link(pdev, false): the link is already down; no RP PIO extensions
    yield from _clear_trigger(pdev)
    if (yield from K.pci_bridge_wait_for_secondary_bus(pdev, "DPC")):
        yield rmw(pdev, "priv_flags", lambda f: f - {PCI_DPC_RECOVERED})
        ret = PCI_ERS_RESULT_DISCONNECT
    else:
        yield rmw(pdev, "priv_flags", lambda f: f | {PCI_DPC_RECOVERED})
        ret = PCI_ERS_RESULT_RECOVERED
    yield rmw(pdev, "priv_flags", lambda f: f - {PCI_DPC_RECOVERING})
    yield from _wake_completed(pdev.dpc_hw)
    return ret


@mirrors("drivers/pci/pcie/dpc.c", note="register reads and the log only", v61=263, v612=260, v72=264)
def dpc_process_error(pdev):
    yield note(f"pcieport {pdev.bdf}: DPC: containment event")


@mirrors("drivers/pci/pcie/dpc.c", note="is_hotplug_bridge and PCI_ERR_UNC_SURPDN in the port's AER status",
         v612=345, v72=349)
def dpc_is_surprise_removal(pdev):
    if pdev.spec is None or not pdev.spec.hotplug:
        return False
    return (yield read(pdev.dpc_hw, "surpdn", marked=True))


@mirrors("drivers/pci/pcie/dpc.c", note="no lock: clear the trigger, clear RECOVERED, wake the waiters",
         v612=324, v72=328)
def dpc_handle_surprise_removal(pdev):
    yield from _clear_trigger(pdev)
    yield rmw(pdev, "priv_flags", lambda f: f - {PCI_DPC_RECOVERED})
    yield from _wake_completed(pdev.dpc_hw)


@mirrors("drivers/pci/pcie/dpc.c", note="the DPC IRQ thread (6.1)", v61=296)
def dpc_handler(pdev):
    yield from K.dpc_process_error(pdev)
    yield from K.pcie_do_recovery(pdev, pci_channel_io_frozen, "dpc_reset_link")
    return IRQ_HANDLED


@mirrors("drivers/pci/pcie/dpc.c", note="6.12: surprise-removal branch first", v612=359)
def dpc_handler(pdev):  # noqa: F811
    if (yield from K.dpc_is_surprise_removal(pdev)):
        yield from K.dpc_handle_surprise_removal(pdev)
        return IRQ_HANDLED
    yield from K.dpc_process_error(pdev)
    yield from K.pcie_do_recovery(pdev, pci_channel_io_frozen, "dpc_reset_link")
    return IRQ_HANDLED


@mirrors("drivers/pci/pcie/dpc.c", note="7.2: surprise-removal branch; pci_dev_get/put around the recovery",
         v72=363)
def dpc_handler(pdev):  # noqa: F811
    if (yield from K.dpc_is_surprise_removal(pdev)):
        yield from K.dpc_handle_surprise_removal(pdev)
        return IRQ_HANDLED
    yield from K.get_device(pdev)
    yield from K.dpc_process_error(pdev)
    yield from K.pcie_do_recovery(pdev, pci_channel_io_frozen, "dpc_reset_link")
    yield from K.put_device(pdev)
    return IRQ_HANDLED


@mirrors("drivers/pci/pcie/dpc.c", note="hard IRQ: read DPC Status (no Interrupt Status: IRQ_NONE, the case "
         "of another service's interrupt on the shared vector), acknowledge it; wake the thread if "
         "triggered", v61=308, v612=380, v72=386)
def dpc_irq(irq, pdev):
    hw = pdev.dpc_hw
    if not (yield read(hw, "interrupt", marked=True)):
        return IRQ_NONE
    if not (yield rmw(hw, "interrupt", lambda _: False)):
        return IRQ_NONE
    if (yield read(hw, "trigger", marked=True)):
        return IRQ_WAKE_THREAD
    return IRQ_HANDLED


# -- probe / remove --------------------------------------------------------------------------------

def _set_enabled(pdev, on):
    yield rmw(pdev.dpc_hw, "enabled", lambda _: on)


@mirrors("drivers/pci/pcie/dpc.c", v612=423, v72=441)
def dpc_enable(dev):
    yield from _set_enabled(dev.port, True)


@mirrors("drivers/pci/pcie/dpc.c", v612=442, v72=460)
def dpc_disable(dev):
    yield from _set_enabled(dev.port, False)


@mirrors("drivers/pci/pcie/dpc.c", note="devm_request_threaded_irq(dpc_irq, dpc_handler); enable",
         v61=352, v612=455, v72=473)
def dpc_probe(dev):
    pdev = dev.port
    new_dpc_hw(pdev, W.__dict__)
    status = yield from K.request_threaded_irq(dev.irq, "dpc_irq", "dpc_handler", IRQF_SHARED,
                                               f"pcie-dpc {pdev.bdf}", pdev)
    if status:
        return status
    dev.devm_irqs = [(dev.irq, pdev)]
    if "dpc_enable" in K.__dict__:
        yield from K.dpc_enable(dev)
    else:
        yield from _set_enabled(pdev, True)
    return 0


@mirrors("drivers/pci/pcie/dpc.c", note="6.1: disable inline; the IRQ is freed by devres afterwards",
         v61=388)
def dpc_remove(dev):
    yield from _set_enabled(dev.port, False)


@mirrors("drivers/pci/pcie/dpc.c", note="the IRQ is freed by devres afterwards", v612=500, v72=518)
def dpc_remove(dev):  # noqa: F811
    yield from K.dpc_disable(dev)


# -- the hardware: containment (the scenario line) -------------------------------------------------------

@op("dpc")
def dpc_event(port_bdf):
    """``dpc PORT``: an ERR_FATAL below PORT triggers containment (see module docstring)."""
    from pcilock.kernel.drivers.pci.hotplug.pciehp import hw_link_change
    from pcilock.kernel.kernel.irq.manage import raise_irq

    port = W.devices.get(port_bdf)
    hw = getattr(port, "dpc_hw", None) if port is not None else None
    if hw is None or not (yield read(hw, "enabled", marked=True)):
        yield note(f"{port_bdf}: DPC is not enabled (no DPC service bound)")
        return ENODEV
    if (yield read(hw, "trigger", marked=True)):
        yield note(f"{port_bdf}: already contained")
        return 0
    section = Completion(f"dpc_completed_waitqueue {port_bdf}")
    yield rmw(hw, "section", lambda _: section)
    yield rmw(hw, "trigger", lambda _: True)
    slot_hw = getattr(port, "slot_hw", None)
    if slot_hw is not None and not (yield read(slot_hw, "gone", marked=True)):
        present = yield read(slot_hw, "presence", marked=True)
        yield from hw_link_change(slot_hw, present, False)
    yield rmw(hw, "interrupt", lambda _: True)
    if hw.irq is not None:
        yield raise_irq(hw.irq)
    return 0
