"""drivers/pci/pcie/aer.c: the AER port service of a Root Port and its threaded interrupt.

Mirrors drivers/pci/pcie/aer.c of v6.1, v6.12 and v7.2 (lines in each
``@mirrors``).

Where an error is handled.  A device that detects an uncorrectable error
sends ERR_FATAL or ERR_NONFATAL upstream; the Root Port latches it in its
Root Error Status and Error Source Identification registers and, with error
reporting enabled in its Root Error Command register, signals its AER
interrupt.  ``aer_irq`` (hard IRQ) reads and clears Root Error Status and
puts the (status, source ID) pair in ``rpc->aer_fifo``; the AER IRQ thread
``aer_isr`` drains the fifo: ``aer_isr_one_error`` → ``find_source_device``
(``pci_walk_bus`` below the Root Port: ``pci_bus_sem`` read-held, matching
the source ID; ``pci_dev_get`` of the source) → ``aer_process_err_devices``
→ ``handle_error_source`` → ``pcie_do_recovery(dev, frozen|normal,
aer_root_reset)`` (:mod:`.err`).  ``aer_root_reset`` masks the Root Port's
error interrupts and resets the hierarchy below the recovering bridge with
``pci_bus_error_reset`` (v7.2: ``pci_reset_bridge(bridge, NO_RESTORE)``,
:mod:`pcilock.kernel.drivers.pci.pci`): ``pci_slot_mutex``, then a blocking
slot reset (``pci_slot_lock``: device locks of the bridge and every device
of the slot, then ``pciehp_reset_slot``'s ``down_write(reset_lock)`` for a
pciehp slot) or a blocking bus reset (``pci_bus_lock``).

The interrupt (:mod:`pcilock.kernel.kernel.irq.manage`): ``aer_probe``
requests one action ("aerdrv", ``IRQF_SHARED``) with
``devm_request_threaded_irq`` on the service's vector (``pcie_device.irq``),
freed by devres after ``aer_remove`` when the service device is unbound.  The
vector is the one of the Interrupt Message Number in the Root Error Status
register; on the port :mod:`.portdrv` assumes (one MSI vector) it is shared
with PME, pciehp and DPC, each with its own action and IRQ thread: every
interrupt of the port runs ``aer_irq`` (which returns IRQ_NONE when Root
Error Status is clear) and, from v6.12 on, the ``free_irq`` of any of them
waits for ``aer_isr``.

Abstracted: every Root Port has an AER capability and the OS owns AER
(native AER: ``host->native_aer``), so every root port gets the AER service
at boot (service order AER, hotplug, DPC, as ``pcie_port_device_register``
registers them); RCECs and RCiEPs are not modelled.  The scenario line
``aer fatal|nonfatal BDF`` sends one message from BDF: one error, no
"multiple errors" bit, so ``is_error_source`` is the source-ID match;
correctable errors are not modelled.  Every device has an AER capability and
its error log reads back (``aer_get_device_error_info`` succeeds).  Register
accesses are marked shared accesses of :class:`AerRootHw` (config space
under ``pci_lock``).  Error printing, statistics, ratelimits, CXL (v7.2
``cxl_rch_handle_error``) take no lock and are not modelled.
"""

from __future__ import annotations

from pcilock._engine_imports import Shared, note, read, rmw
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.kernel.irq.manage import IRQ_HANDLED, IRQ_NONE, IRQ_WAKE_THREAD, IRQF_SHARED
from pcilock.kernel.userspace import op

from .err import (
    PCI_ERS_RESULT_DISCONNECT,
    PCI_ERS_RESULT_RECOVERED,
    pci_channel_io_frozen,
    pci_channel_io_normal,
)

ENODEV = -19
AER_NONFATAL, AER_FATAL = 0, 1
# Root Error Status (include/uapi/linux/pci_regs.h)
PCI_ERR_ROOT_UNCOR_RCV = 0x04
PCI_ERR_ROOT_MULTI_UNCOR_RCV = 0x08
PCI_ERR_ROOT_FATAL_RCV = 0x40
AER_ERR_STATUS_MASK = 0x7F
PCIE_PORT_SERVICE_AER = 2


class AerRootHw(Shared):
    """The Root Port's AER root registers (hardware, not a kernel structure).

    ``regs`` = (Root Error Status, ERR_FATAL/NONFATAL Source ID as (bus, devfn)),
    changed atomically; ``intr`` = the Root Error Command's error-reporting
    enables (ROOT_PORT_INTR_ON_MESG_MASK).
    """

    _shared_ = {"regs": (0, None), "intr": False}

    def __init__(self, port, **kw):
        super().__init__(**kw)
        self.port = port
        self.irq = None  # IrqDesc the port signals its AER interrupt on (set when its vectors are allocated)

    def describe(self):
        return f"AER root registers {self.port.bdf}"


class AerRpc(Shared):
    """``struct aer_rpc``: the Root Port and the fifo from hard IRQ to IRQ thread."""

    _shared_ = {"aer_fifo": ()}

    def __init__(self, rpd, **kw):
        super().__init__(**kw)
        self.rpd = rpd

    def describe(self):
        return f"aer_rpc {self.rpd.bdf}"


class AerErrInfo:
    """``struct aer_err_info`` (on the IRQ thread's stack: thread-local)."""

    def __init__(self, id, severity):
        self.id = id
        self.severity = severity
        self.multi_error_valid = 0
        self.dev = []
        self.error_dev_num = 0


def new_aer_hw(port, attrs):
    """The Root Port's AER root registers (made once per ``pci_dev``); their vector is set by
    :mod:`.portdrv` when the port's vectors are allocated."""
    hw = getattr(port, "aer_hw", None)
    if hw is None:
        hw = port.aer_hw = AerRootHw(port)
    return hw


def boot_aer(svc, attrs):
    """What aer_probe left behind for a Root Port bound at boot (no model events)."""
    from pcilock.kernel.kernel.irq.manage import IrqAction

    port = svc.port
    hw = new_aer_hw(port, attrs)
    rpc = AerRpc(port)
    svc.service_data = rpc
    svc.irq.action = IrqAction(f"aerdrv {port.bdf}", "aer_irq", "aer_isr", svc)
    svc.devm_irqs = [(svc.irq, svc)]
    hw.poke("intr", True)  # aer_enable_rootport


# -- probe / remove -----------------------------------------------------------------------------------

@mirrors("drivers/pci/pcie/aer.c", note="agents below: config accesses only (AER and Device Status "
         "clears when the device reports errors)", v61=1257, v612=1404, v72=1528)
def clear_status_iter(dev, data):
    return 0
    yield


@mirrors("drivers/pci/pcie/aer.c", note="clear stale Root Error Status (latched while the service was "
         "unbound) and, if it had bits, the agents' status below (pci_walk_bus); set the Root Error Command "
         "enables (Device Status, RTCTL and the port's own COR/UNCOR status: config accesses)",
         v61=1277, v612=1424, v72=1548)
def aer_enable_rootport(rpc):
    pdev = rpc.rpd
    hw = pdev.aer_hw
    old = yield rmw(hw, "regs", lambda r: (0, r[1]))  # read Root Error Status, write it back (RW1C)
    if old[0] & AER_ERR_STATUS_MASK:
        sub = yield read(pdev, "subordinate")
        if sub is not None:
            yield from K.pci_walk_bus(sub, K.clear_status_iter, None)
    yield rmw(hw, "intr", lambda _: True)  # aer_enable_irq


@mirrors("drivers/pci/pcie/aer.c", note="clear the Root Error Command enables and the status",
         v61=1328, v612=1466, v72=1590)
def aer_disable_rootport(rpc):
    hw = rpc.rpd.aer_hw
    yield rmw(hw, "intr", lambda _: False)
    yield rmw(hw, "regs", lambda r: (0, r[1]))


@mirrors("drivers/pci/pcie/aer.c", note="the IRQ is devm-managed: freed after this, by devres",
         v61=1356, v612=1485, v72=1609)
def aer_remove(dev):
    yield from K.aer_disable_rootport(dev.service_data)


@mirrors("drivers/pci/pcie/aer.c", note="Root Ports only (no RCEC); devm_request_threaded_irq(aer_irq, "
         "aer_isr)", v61=1369, v612=1498, v72=1622)
def aer_probe(dev):
    port = dev.port
    if port.type != "root-port":
        return ENODEV
    rpc = AerRpc(port)
    dev.service_data = rpc
    new_aer_hw(port, W.__dict__)
    status = yield from K.request_threaded_irq(dev.irq, "aer_irq", "aer_isr", IRQF_SHARED,
                                               f"aerdrv {port.bdf}", dev)
    if status:
        return status
    dev.devm_irqs = [(dev.irq, dev)]
    yield from K.aer_enable_rootport(rpc)
    return 0


# -- interrupt ---------------------------------------------------------------------------------------

@mirrors("drivers/pci/pcie/aer.c", note="hard IRQ: read Root Error Status (nothing: IRQ_NONE, the case of "
         "another service's interrupt on the shared vector), read the source ID and clear, kfifo_put",
         v61=1200, v612=1361, v72=1485)
def aer_irq(irq, context):
    rpc = context.service_data
    hw = rpc.rpd.aer_hw
    if not (yield read(hw, "regs", marked=True))[0] & AER_ERR_STATUS_MASK:
        return IRQ_NONE
    regs = yield rmw(hw, "regs", lambda r: (0, r[1]))  # read source ID, write-1-to-clear
    status, src = regs
    if not status & AER_ERR_STATUS_MASK:
        return IRQ_NONE
    yield rmw(rpc, "aer_fifo", lambda f: f + ((status, src),))
    return IRQ_WAKE_THREAD


def _kfifo_get(f):
    return f[1:]


@mirrors("drivers/pci/pcie/aer.c", note="the AER IRQ thread: drain the fifo", v61=1179, v612=1340, v72=1464)
def aer_isr(context):
    rpc = context.service_data
    # kfifo_is_empty: with one reader (this thread) and one writer (aer_irq) a kfifo needs no lock
    # (include/linux/kfifo.h): a marked access
    if not (yield read(rpc, "aer_fifo", marked=True)):
        return IRQ_NONE
    while True:
        old = yield rmw(rpc, "aer_fifo", _kfifo_get)
        if not old:
            break
        e_src = old[0]
        if "aer_isr_one_error_type" in K.__dict__:
            yield from K.aer_isr_one_error(rpc.rpd, e_src)
        else:
            yield from K.aer_isr_one_error(rpc, e_src)
    return IRQ_HANDLED


def _uncor_info(status, src):
    info = AerErrInfo(src, AER_FATAL if status & PCI_ERR_ROOT_FATAL_RCV else AER_NONFATAL)
    info.multi_error_valid = 1 if status & PCI_ERR_ROOT_MULTI_UNCOR_RCV else 0
    return info


@mirrors("drivers/pci/pcie/aer.c", note="6.x: (rpc, e_src); uncorrectable part only", v61=1126, v612=1287)
def aer_isr_one_error(rpc, e_src):
    pdev = rpc.rpd
    status, src = e_src
    if status & PCI_ERR_ROOT_UNCOR_RCV:
        e_info = _uncor_info(status, src)
        if (yield from K.find_source_device(pdev, e_info)):
            yield from K.aer_process_err_devices(e_info)


@mirrors("drivers/pci/pcie/aer.c", v72=1388)
def aer_isr_one_error_type(root, info):
    found = yield from K.find_source_device(root, info)
    if found:
        yield from K.aer_process_err_devices(info)


@mirrors("drivers/pci/pcie/aer.c", note="7.2: (root, e_src); uncorrectable part only", v72=1420)
def aer_isr_one_error(root, e_src):  # noqa: F811
    status, src = e_src
    if status & PCI_ERR_ROOT_UNCOR_RCV:
        yield from K.aer_isr_one_error_type(root, _uncor_info(status, src))


# -- finding the source --------------------------------------------------------------------------------

@mirrors("drivers/pci/pcie/aer.c", note="pci_dev_get of the source", v61=816, v612=822, v72=1000)
def add_error_device(e_info, dev):
    if e_info.error_dev_num >= 5:  # AER_MAX_MULTI_ERR_DEVICES
        return -28
    yield from K.get_device(dev)
    e_info.dev.append(dev)
    e_info.error_dev_num += 1
    return 0


@mirrors("drivers/pci/pcie/aer.c", note="source-ID match (one error: no multiple-error register scan)",
         v61=831, v612=837, v72=1030)
def is_error_source(dev, e_info):
    return e_info.id == (dev.bus.number, dev.devfn)
    yield


@mirrors("drivers/pci/pcie/aer.c", v61=883, v612=889, v72=1082)
def find_device_iter(dev, e_info):
    if (yield from K.is_error_source(dev, e_info)):
        if (yield from K.add_error_device(e_info, dev)):
            return 1
        if not e_info.multi_error_valid:
            return 1
    return 0


@mirrors("drivers/pci/pcie/aer.c", note="the Root Port itself, then pci_walk_bus below it (pci_bus_sem read)",
         v61=914, v612=920, v72=1114)
def find_source_device(parent, e_info):
    e_info.error_dev_num = 0
    e_info.dev = []
    if (yield from K.find_device_iter(parent, e_info)):
        return True
    sub = yield read(parent, "subordinate")
    if sub is not None:
        yield from K.pci_walk_bus(sub, K.find_device_iter, e_info)
    if not e_info.error_dev_num:
        yield note(f"AER: {parent.bdf}: found no error details for {e_info.id}")
        return False
    return True


@mirrors("drivers/pci/pcie/aer.c", note="6.x: (dev, info); config reads of the error log", v61=1052,
         v612=1220)
def aer_get_device_error_info(dev, info):
    return 1
    yield


@mirrors("drivers/pci/pcie/aer.c", note="7.2: (info, i)", v72=1308)
def aer_get_device_error_info(info, i):  # noqa: F811
    return 1
    yield


def _error_info(e_info, i):
    if "aer_isr_one_error_type" in K.__dict__:
        return K.aer_get_device_error_info(e_info, i)
    return K.aer_get_device_error_info(e_info.dev[i], e_info)


@mirrors("drivers/pci/pcie/aer.c", note="print every source first, then handle each", v61=1106, v612=1267,
         v72=1367)
def aer_process_err_devices(e_info):
    for i in range(e_info.error_dev_num):
        yield from _error_info(e_info, i)  # aer_print_error
    for i in range(e_info.error_dev_num):
        if (yield from _error_info(e_info, i)):
            yield from K.handle_error_source(e_info.dev[i], e_info)


# -- recovery -------------------------------------------------------------------------------------

def _recover(dev, info):
    if info.severity == AER_NONFATAL:
        yield from K.pcie_do_recovery(dev, pci_channel_io_normal, "aer_root_reset")
    elif info.severity == AER_FATAL:
        yield from K.pcie_do_recovery(dev, pci_channel_io_frozen, "aer_root_reset")


@mirrors("drivers/pci/pcie/aer.c", note="6.1: recovery inline, then pci_dev_put", v61=952)
def handle_error_source(dev, info):
    yield from _recover(dev, info)
    yield from K.put_device(dev)


@mirrors("drivers/pci/pcie/aer.c", note="uncorrectable: pcie_do_recovery with aer_root_reset",
         v612=1097, v72=1185)
def pci_aer_handle_error(dev, info):
    yield from _recover(dev, info)


@mirrors("drivers/pci/pcie/aer.c", note="6.12/7.2: [cxl_rch_handle_error] pci_aer_handle_error, pci_dev_put",
         v612=1123, v72=1211)
def handle_error_source(dev, info):  # noqa: F811
    yield from K.pci_aer_handle_error(dev, info)
    yield from K.put_device(dev)


@mirrors("drivers/pci/pcie/aer.c", note="mask the Root Port's error interrupts, pci_bus_error_reset, clear "
         "Root Error Status, unmask (RCEC/RCiEP FLR branch not modelled)", v61=1428, v612=1558, v72=1682)
def aer_root_reset(dev):
    root = yield from _root_port(dev)
    hw = getattr(root, "aer_hw", None) if root is not None else None
    if hw is not None:
        yield rmw(hw, "intr", lambda _: False)  # aer_disable_irq(root)
    rc = yield from K.pci_bus_error_reset(dev)
    if hw is not None:
        yield rmw(hw, "regs", lambda r: (0, r[1]))
        yield rmw(hw, "intr", lambda _: True)  # aer_enable_irq(root)
    return PCI_ERS_RESULT_DISCONNECT if rc else PCI_ERS_RESULT_RECOVERED


def _root_port(dev):
    """pcie_find_root_port(): the Root Port at or above *dev*."""
    while dev is not None:
        if dev.type == "root-port":
            return dev
        dev = yield from K.pci_upstream_bridge(dev)
    return None


# -- the hardware: a device sends ERR_FATAL / ERR_NONFATAL (the scenario line) --------------------------

def _root_port_of(dev):
    d = dev.physfn if dev.is_virtfn else dev
    while d is not None:
        if d.type == "root-port":
            return d
        d = d.bus.self
    return None


def hw_aer_message(hw, fatal, src):
    """The Root Port receives ERR_FATAL/ERR_NONFATAL from *src*; it interrupts if reporting is enabled."""
    from pcilock.kernel.kernel.irq.manage import raise_irq

    bits = PCI_ERR_ROOT_UNCOR_RCV | (PCI_ERR_ROOT_FATAL_RCV if fatal else 0)

    def latch(r):
        status, sid = r
        if status & PCI_ERR_ROOT_UNCOR_RCV:
            return (status | bits | PCI_ERR_ROOT_MULTI_UNCOR_RCV, sid)
        return (status | bits, src)

    old = yield rmw(hw, "regs", latch)
    if (yield read(hw, "intr", marked=True)) and not old[0] & AER_ERR_STATUS_MASK and hw.irq is not None:
        yield raise_irq(hw.irq)


@op("aer")
def aer_event(severity, bdf):
    """``aer fatal|nonfatal BDF``: BDF signals an uncorrectable error to its Root Port."""
    dev = W.devices.get(bdf)
    if dev is None:  # a VF that was never enabled
        yield note(f"{bdf}: no such function")
        return ENODEV
    root = _root_port_of(dev)
    hw = getattr(root, "aer_hw", None) if root is not None else None
    if hw is None:
        yield note(f"{bdf}: no Root Port with an AER service above it")
        return ENODEV
    yield from hw_aer_message(hw, severity == "fatal", (dev.bus.number, dev.devfn))
    return 0
