"""drivers/pci/pcie/pme.c: the PME port service of a Root Port, as far as its interrupt goes.

Mirrors drivers/pci/pcie/pme.c of v6.1, v6.12 and v7.2 (lines in each
``@mirrors``).  ``get_port_device_capability`` gives every Root Port the PME
service (native PME: the OS owns it, as it owns AER in the model), and
``pcie_port_device_register`` registers it first (service bit 0), on the
vector of the PCIe Capability's Interrupt Message Number, which pciehp (and
bwctrl) always share (:mod:`.portdrv`).  Why it is modelled: ``pcie_pme_probe``
requests a (non-threaded) shared interrupt and ``pcie_pme_remove`` frees it
*first* when the port is unbound; from v6.12 on that ``free_irq`` waits for
every IRQ thread of the vector (:mod:`pcilock.kernel.kernel.irq.manage`), so
it is where the unbinding task first waits for pciehp's, AER's or DPC's
thread, under the PME service device's lock and before ``aer_remove`` or
``pciehp_remove`` ran.

Abstracted: no device sends a PME message in the model, so Root Status' PME
Status is never set: ``pcie_pme_irq`` returns IRQ_NONE (its spinlock and
config read are not model steps) and ``data->work`` (``pcie_pme_work_fn``)
is never queued, so ``cancel_work_sync`` in ``pcie_pme_remove`` has nothing
to wait for.  ``pcie_pme_interrupt_enable``/``pcie_clear_root_pme_status``
are config writes under ``data->lock`` (a spinlock): no sleeping lock.
``device_set_wakeup_capable`` (``pcie_pme_can_wakeup``, at a run-time probe)
adds the ``power/wakeup`` sysfs file of an already registered device: not
modelled.  RCECs, suspend/resume and ``pcie_pme_msi_disabled`` (INTx for
PME) are not modelled.
"""

from __future__ import annotations

from pcilock._engine_imports import read
from pcilock.kernel._model import K, mirrors
from pcilock.kernel.kernel.irq.manage import IRQ_NONE, IRQF_SHARED

ENODEV = -19
PCIE_PORT_SERVICE_PME = 1


class PcieServiceDataPme:
    """``struct pcie_pme_service_data`` (``noirq`` under ``data->lock``, a spinlock)."""

    def __init__(self, srv):
        self.srv = srv
        self.noirq = False


@mirrors("drivers/pci/pcie/pme.c", note="hard IRQ: Root Status' PME Status is never set in the model "
         "(no PME message): IRQ_NONE", v61=264, v612=266, v72=266)
def pcie_pme_irq(irq, context):
    return IRQ_NONE
    yield


@mirrors("drivers/pci/pcie/pme.c", note="device_set_wakeup_capable: the power/wakeup sysfs file, not "
         "modelled", v61=296, v612=298, v72=298)
def pcie_pme_can_wakeup(dev, ign):
    return 0
    yield


@mirrors("drivers/pci/pcie/pme.c", note="the port itself, then pci_walk_bus below it (pci_bus_sem read)",
         v61=310, v612=312, v72=312)
def pcie_pme_mark_devices(port):
    yield from K.pcie_pme_can_wakeup(port, None)
    sub = yield read(port, "subordinate")
    if sub is not None:
        yield from K.pci_walk_bus(sub, K.pcie_pme_can_wakeup, None)


@mirrors("drivers/pci/pcie/pme.c", note="Root Ports only; request_irq(srv->irq, pcie_pme_irq, IRQF_SHARED)",
         v61=324, v612=326, v72=326)
def pcie_pme_probe(srv):
    port = srv.port
    if port.type != "root-port":
        return ENODEV
    data = PcieServiceDataPme(srv)
    srv.service_data = data  # set_service_data
    # pcie_pme_interrupt_enable(port, false); pcie_clear_root_pme_status(port): config writes
    ret = yield from K.request_irq(srv.irq, "pcie_pme_irq", IRQF_SHARED, f"PCIe PME {port.bdf}", srv)
    if ret:
        return ret
    yield from K.pcie_pme_mark_devices(port)
    # pcie_pme_interrupt_enable(port, true)
    return 0


@mirrors("drivers/pci/pcie/pme.c", note="under data->lock (a spinlock): interrupt off, status cleared, "
         "noirq", v61=376, v612=378, v72=378)
def pcie_pme_disable_interrupt(port, data):
    data.noirq = True  # with the PME interrupt enable and status config writes: no model step
    return
    yield


@mirrors("drivers/pci/pcie/pme.c", note="free_irq, then cancel_work_sync (never queued) and kfree",
         v61=444, v612=446, v72=446)
def pcie_pme_remove(srv):
    data = srv.service_data
    yield from K.pcie_pme_disable_interrupt(srv.port, data)
    yield from K.free_irq(srv.irq, srv)
    # cancel_work_sync(&data->work): the work is never queued in the model; kfree(data)


def boot_pme(svc, attrs):
    """What pcie_pme_probe left behind for a Root Port bound at boot (no model events)."""
    from pcilock.kernel.kernel.irq.manage import IrqAction

    svc.service_data = PcieServiceDataPme(svc)
    svc.irq.action = IrqAction(f"PCIe PME {svc.port.bdf}", "pcie_pme_irq", None, svc)
