"""Model driver pcieport (drivers/pci/pcie/portdrv.c; v6.1: portdrv_core.c + portdrv_pci.c).

Binds PCIe root, upstream and downstream ports.  ``pcie_port_device_register``
registers one service device (``struct pcie_device`` on
``pcie_port_bus_type``) per service the port has, in service-bit order: PME
(:mod:`.pme`, every Root Port: native PME), AER (:mod:`.aer`, every Root
Port: it has an AER capability and the OS owns AER in the model; v6.1 also
registers an AER service device for a switch port with an AER capability
(portdrv_core.c 6.1:225-228; 6.12/7.2 only Root Ports and RCECs), which
``aer_probe`` rejects: not created in the model, it holds no interrupt),
hotplug (scenario ``hotplug = true``: pciehp,
:mod:`pcilock.kernel.drivers.pci.hotplug.pciehp_core`) and DPC (scenario
``dpc = true``, :mod:`.dpc`).  bwctrl (v7.2) is not modelled: its handler is a
hard IRQ one, and it is registered and freed last (service bit 4), after every
threaded action of the port is gone (so its ``free_irq``, under the global
``pcie_bwctrl_setspeed_rwsem`` held for writing, waits for hard IRQs only).

Interrupt vectors (``pcie_init_service_irqs`` → ``pcie_port_enable_irq_vec``,
the same code in all three bases).  ``pci_alloc_irq_vectors(dev, 1, 32,
MSIX|MSI)``, then the Interrupt Message Numbers the services use
(``pcie_message_numbers``): PME, hotplug and bwctrl always use the one in the
PCI Express Capabilities register (PCI_EXP_FLAGS_IRQ), AER the one in the
Root Error Status register (PCI_ERR_ROOT_AER_IRQ), DPC the one in the DPC
Capability register (PCI_EXP_DPC_IRQ).  If fewer vectors are needed than were
allocated they are reallocated to the largest message number + 1, and each
service's ``pcie_device.irq`` is the vector of its message number.  The model
assumes a typical Root Port (or switch Downstream Port): MSI with one
message (Multiple Message Capable = 1, :data:`PORT_MSI_VECTORS`), hence every
Interrupt Message Number reads 0 (:data:`PORT_IRQ_MESSAGE_NUMBERS`; with one
vector allocated the spec requires it for MSI).  So all services of a port
share one vector, each with its own action and, for AER, hotplug and DPC, its
own IRQ thread (:mod:`pcilock.kernel.kernel.irq.manage`).  A port whose
capabilities report different message numbers with enough vectors (MSI-X, or
multi-message MSI) gets one vector per number; such a port is not the
default and no scenario option selects it (tests change the two constants).
The INTx fallback (MSI failing, or ``pcie_pme_no_msi``) puts every service on
the one INTx vector; it is modelled but never reached.  When the vectors are
allocated the port's hardware signals each of its interrupt sources (slot
events, AER root messages, DPC) on the vector of that source's message number
(model-only: ``_msi_enabled``); ``pci_free_irq_vectors`` leaves the hardware
pointing at vectors with no action.

AER and DPC request their interrupts with ``devm_request_threaded_irq``:
devres frees them after the service's ``.remove`` when the service device is
unbound; PME and pciehp free theirs in ``.remove``.  From v6.12 on each of
these ``free_irq`` calls waits for every IRQ thread of the shared vector.

Error handlers (``pcie_portdrv_err_handler``, portdrv.c; v6.1 portdrv_pci.c):
``error_detected`` (NEED_RESET when frozen, else CAN_RECOVER),
``mmio_enabled`` (RECOVERED) and ``slot_reset``, which calls each bound
service's ``slot_reset`` (pciehp's ``pciehp_slot_reset``) through
``device_for_each_child`` (a klist walk: no sleeping lock) and restores the
config space.  None takes a lock.

Locks (notes §2): ``pcie_portdrv_probe`` runs under ``device_lock(port)``;
registering a service device probes its driver under ``device_lock(svc)``
(``pcie_port_bus_type`` has no ``need_parent_lock``).  ``pcie_portdrv_remove``
runs under ``device_lock(port)`` (+ ``pci_rescan_remove_lock`` when the port
is removed by remove_store / a parent pciehp / EEH) and unregisters the
service devices in registration order (``device_for_each_child``):
``device_del`` takes ``device_lock(svc)`` to kill it, then
``device_release_driver(svc)`` takes it again around the service's
``.remove`` and the devres release.  The generic driver-core steps for the
service device are written out here (the model's driver core is the PCI bus
type's); the sysfs files of the service device are not modelled.

Not modelled: ``get_port_device_capability`` registers DPC only with the AER
service bit or ``pcie_ports=dpc-native`` (portdrv_core.c 6.1:249-252,
portdrv.c 6.12/7.2:265-268).  On v6.1 a switch Downstream Port with an AER
capability has the AER bit, so it gets DPC as the model gives it; on
v6.12/v7.2 it has not, and a DPC service on a Downstream Port needs
dpc-native.  The model registers DPC wherever the scenario says ``dpc = true``.
"""

from __future__ import annotations

from pcilock._engine_imports import read, write
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.include.linux.device import Device, DeviceDriver
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "pcieport"
PCIE_PORT_SERVICE_PME = 1
PCIE_PORT_SERVICE_AER = 2
PCIE_PORT_SERVICE_HP = 4
PCIE_PORT_SERVICE_DPC = 8
PCIE_PORT_SERVICE_BWCTRL = 16  # v7.2 bwctrl, v6.x BWNOTIF (no driver in 6.x): not modelled
PCIE_PORT_MAX_MSI_ENTRIES = 32
PORT_TYPES = ("root-port", "upstream-port", "downstream-port")
EIO, ENOSPC = -5, -28

# The port's interrupt hardware (see the module docstring): how many vectors its MSI capability
# offers, and the Interrupt Message Number each interrupt source reports (the PCI Express
# Capabilities register for PME/hotplug/bwctrl, Root Error Status for AER, the DPC Capability)
PORT_MSI_VECTORS = 1
PORT_IRQ_MESSAGE_NUMBERS = {"pcie": 0, "aer": 0, "dpc": 0}
_ACTION_NAMES = {PCIE_PORT_SERVICE_PME: "PCIe PME", PCIE_PORT_SERVICE_AER: "aerdrv",
                 PCIE_PORT_SERVICE_HP: "pciehp", PCIE_PORT_SERVICE_DPC: "pcie-dpc"}


class PcieDevice(Device):
    """``struct pcie_device``: a port service device (child of the port's ``struct device``)."""

    def __init__(self, port, service, irq=None, **kw):
        super().__init__(f"{port.bdf}:pcie{service:03x}", parent=port, **kw)
        self.port = port
        self.service = service
        self.irq = irq  # pcie_device.irq: the IrqDesc of the service's vector
        self.service_data = None


PME_DRIVER = DeviceDriver("pcie_pme")
PCIEHP_DRIVER = DeviceDriver("pciehp")
AER_DRIVER = DeviceDriver("aer")
DPC_DRIVER = DeviceDriver("dpc")
SERVICE_DRIVERS = {PCIE_PORT_SERVICE_PME: PME_DRIVER, PCIE_PORT_SERVICE_AER: AER_DRIVER,
                   PCIE_PORT_SERVICE_HP: PCIEHP_DRIVER, PCIE_PORT_SERVICE_DPC: DPC_DRIVER}
_PROBE = {PCIE_PORT_SERVICE_PME: "pcie_pme_probe", PCIE_PORT_SERVICE_AER: "aer_probe",
          PCIE_PORT_SERVICE_HP: "pciehp_probe", PCIE_PORT_SERVICE_DPC: "dpc_probe"}
_REMOVE = {PCIE_PORT_SERVICE_PME: "pcie_pme_remove", PCIE_PORT_SERVICE_AER: "aer_remove",
           PCIE_PORT_SERVICE_HP: "pciehp_remove", PCIE_PORT_SERVICE_DPC: "dpc_remove"}


def _driver_probe(dev):
    """The service driver's probe (pcie_port_service_driver.probe)."""
    return getattr(K, _PROBE[dev.service])(dev)


def _driver_remove(dev):
    return getattr(K, _REMOVE[dev.service])(dev)


def _services(port):
    return getattr(port, "pcie_services", [])


def _probe_get(dev):
    status = yield from _driver_probe(dev)
    if status:
        return status
    yield from K.get_device(dev)  # dropped by the remove side's put_device
    return 0


@mirrors("drivers/pci/pcie/portdrv_core.c", note="6.1", v61=502)
def pcie_port_probe_service(dev):
    return (yield from _probe_get(dev))


@mirrors("drivers/pci/pcie/portdrv.c", v612=517)
def pcie_port_probe_service(dev):  # noqa: F811
    return (yield from _probe_get(dev))


@mirrors("drivers/pci/pcie/portdrv.c", note="7.2: pcie_port_bus_type.probe", v72=534)
def pcie_port_bus_probe(dev):
    return (yield from _probe_get(dev))


@mirrors("drivers/pci/pcie/portdrv_core.c", note="6.1", v61=533)
def pcie_port_remove_service(dev):
    yield from _driver_remove(dev)
    yield from K.put_device(dev)


@mirrors("drivers/pci/pcie/portdrv.c", v612=548)
def pcie_port_remove_service(dev):  # noqa: F811
    yield from _driver_remove(dev)
    yield from K.put_device(dev)


@mirrors("drivers/pci/pcie/portdrv.c", note="7.2: pcie_port_bus_type.remove", v72=562)
def pcie_port_bus_remove(dev):
    yield from _driver_remove(dev)
    yield from K.put_device(dev)


def _service_probe(dev):
    if "pcie_port_bus_probe" in K.__dict__:
        return K.pcie_port_bus_probe(dev)
    return K.pcie_port_probe_service(dev)


def _service_remove(dev):
    if "pcie_port_bus_remove" in K.__dict__:
        return K.pcie_port_bus_remove(dev)
    return K.pcie_port_remove_service(dev)


def _pcie_device_init(pdev, service, irq):
    dev = PcieDevice(pdev, service, irq)
    pdev.pcie_services = _services(pdev) + [dev]
    yield write(dev, "registered", True)  # device_add
    yield from K.device_lock(dev)  # __device_attach
    yield write(dev, "driver", SERVICE_DRIVERS[service])
    ret = yield from _service_probe(dev)
    if ret:
        yield write(dev, "driver", None)
    yield from K.device_unlock(dev)
    return 0


_INIT_NOTE = ("device_register(svc) -> __device_attach(svc): "
              "device_lock(svc) around the service driver's probe")


@mirrors("drivers/pci/pcie/portdrv_core.c", note=_INIT_NOTE, v61=272)
def pcie_device_init(pdev, service, irq):
    return (yield from _pcie_device_init(pdev, service, irq))


@mirrors("drivers/pci/pcie/portdrv.c", note=_INIT_NOTE, v612=288, v72=290)
def pcie_device_init(pdev, service, irq):  # noqa: F811
    return (yield from _pcie_device_init(pdev, service, irq))


def port_services(dev):
    """get_port_device_capability: the services of *dev*, in service-bit order (registration order)."""
    from .dpc import has_dpc_cap

    spec = dev.spec
    out = []
    if dev.type == "root-port":
        out.append(PCIE_PORT_SERVICE_PME)
        out.append(PCIE_PORT_SERVICE_AER)
    if spec is not None and spec.hotplug:
        out.append(PCIE_PORT_SERVICE_HP)
    if has_dpc_cap(dev):
        out.append(PCIE_PORT_SERVICE_DPC)
    return out


# -- interrupt vectors -------------------------------------------------------------------------------

def _vector_name(dev, mask, nr, pme, aer, dpc):
    users = []
    for service in (PCIE_PORT_SERVICE_PME, PCIE_PORT_SERVICE_AER, PCIE_PORT_SERVICE_HP,
                    PCIE_PORT_SERVICE_DPC):
        msg = {PCIE_PORT_SERVICE_AER: aer, PCIE_PORT_SERVICE_DPC: dpc}.get(service, pme)
        if mask & service and msg == nr:
            users.append(_ACTION_NAMES[service])
    return f"{', '.join(users) or 'pcieport'} {dev.bdf}"


def _pci_alloc_irq_vectors(dev, attrs, min_vecs, max_vecs, names):
    """pci_alloc_irq_vectors (model-only: no lock the model needs; msi_lock_descs is a leaf):
    as many vectors as the port's MSI capability offers, within [min_vecs, max_vecs]."""
    from pcilock.kernel.kernel.irq.manage import new_irq_desc

    n = min(max_vecs, PORT_MSI_VECTORS)
    if n < min_vecs:
        return ENOSPC
    dev.irq_vectors = [new_irq_desc(attrs, names(i)) for i in range(n)]
    return n


def _pci_free_irq_vectors(dev):
    """pci_free_irq_vectors (model-only): the vectors are gone; the hardware still points at them."""
    dev.irq_vectors = []


def _msi_enabled(dev, attrs, mask, pme, aer, dpc):
    """Model-only: the port's interrupt sources now signal on the vector of their message number."""
    from .aer import new_aer_hw
    from .dpc import new_dpc_hw

    vec = dev.irq_vectors
    slot_hw = attrs.get("slot_hw", {}).get(dev.bdf)
    if slot_hw is not None:
        slot_hw.irq = vec[pme]
    if mask & PCIE_PORT_SERVICE_AER:
        new_aer_hw(dev, attrs).irq = vec[aer]
    if mask & PCIE_PORT_SERVICE_DPC:
        new_dpc_hw(dev, attrs).irq = vec[dpc]


def _message_numbers(dev, mask):
    pme = aer = dpc = 0
    nvec = 0
    if mask & (PCIE_PORT_SERVICE_PME | PCIE_PORT_SERVICE_HP | PCIE_PORT_SERVICE_BWCTRL):
        pme = PORT_IRQ_MESSAGE_NUMBERS["pcie"]  # PCI_EXP_FLAGS_IRQ
        nvec = pme + 1
    if mask & PCIE_PORT_SERVICE_AER:
        aer = PORT_IRQ_MESSAGE_NUMBERS["aer"]  # PCI_ERR_ROOT_AER_IRQ
        nvec = max(nvec, aer + 1)
    if mask & PCIE_PORT_SERVICE_DPC:
        dpc = PORT_IRQ_MESSAGE_NUMBERS["dpc"]  # PCI_EXP_DPC_IRQ
        nvec = max(nvec, dpc + 1)
    return pme, aer, dpc, nvec


@mirrors("drivers/pci/pcie/portdrv_core.c", note="6.1: config reads of the three message numbers",
         v61=45)
def pcie_message_numbers(dev, mask):
    return _message_numbers(dev, mask)
    yield


@mirrors("drivers/pci/pcie/portdrv.c", note="config reads of the three message numbers", v612=57, v72=57)
def pcie_message_numbers(dev, mask):  # noqa: F811
    return _message_numbers(dev, mask)
    yield


def _names(dev, mask):
    pme, aer, dpc, _ = _message_numbers(dev, mask)
    return lambda nr: _vector_name(dev, mask, nr, pme, aer, dpc)


def _enable_irq_vec(dev, irqs, mask, attrs, numbers):
    # the body of pcie_port_enable_irq_vec after the first allocation (*numbers*: pcie_message_numbers)
    nr_entries = len(dev.irq_vectors)
    pme, aer, dpc, nvec = numbers
    if nvec > nr_entries:
        _pci_free_irq_vectors(dev)
        return EIO
    if nvec != nr_entries:
        _pci_free_irq_vectors(dev)
        nr_entries = _pci_alloc_irq_vectors(dev, attrs, nvec, nvec, _names(dev, mask))
        if nr_entries < 0:
            return nr_entries
    vec = dev.irq_vectors
    if mask & (PCIE_PORT_SERVICE_PME | PCIE_PORT_SERVICE_HP | PCIE_PORT_SERVICE_BWCTRL):
        irqs[PCIE_PORT_SERVICE_PME] = irqs[PCIE_PORT_SERVICE_HP] = irqs[PCIE_PORT_SERVICE_BWCTRL] = vec[pme]
    if mask & PCIE_PORT_SERVICE_AER:
        irqs[PCIE_PORT_SERVICE_AER] = vec[aer]
    if mask & PCIE_PORT_SERVICE_DPC:
        irqs[PCIE_PORT_SERVICE_DPC] = vec[dpc]
    _msi_enabled(dev, attrs, mask, pme, aer, dpc)
    return 0


def _port_enable_irq_vec(dev, irqs, mask):
    attrs = W.__dict__
    nr_entries = _pci_alloc_irq_vectors(dev, attrs, 1, PCIE_PORT_MAX_MSI_ENTRIES, _names(dev, mask))
    if nr_entries < 0:
        return nr_entries
    numbers = yield from K.pcie_message_numbers(dev, mask)
    return _enable_irq_vec(dev, irqs, mask, attrs, numbers)


_VEC_NOTE = ("pci_alloc_irq_vectors(1, 32, MSIX|MSI), the message numbers, a reallocation to the number "
             "needed; PME/hotplug/bwctrl share the PCIe Capability's vector, AER and DPC take their own "
             "numbers' (no lock: msi_lock_descs is a leaf)")


@mirrors("drivers/pci/pcie/portdrv_core.c", note=_VEC_NOTE, v61=101)
def pcie_port_enable_irq_vec(dev, irqs, mask):
    return (yield from _port_enable_irq_vec(dev, irqs, mask))


@mirrors("drivers/pci/pcie/portdrv.c", note=_VEC_NOTE, v612=113, v72=113)
def pcie_port_enable_irq_vec(dev, irqs, mask):  # noqa: F811
    return (yield from _port_enable_irq_vec(dev, irqs, mask))


def _intx(dev, irqs, mask, attrs):
    # fall back to INTx: every service on the one INTx vector (never reached: every port has MSI)
    from pcilock.kernel.kernel.irq.manage import new_irq_desc

    desc = new_irq_desc(attrs, f"INTx {dev.bdf}")
    dev.irq_vectors = [desc]
    for service in (PCIE_PORT_SERVICE_PME, PCIE_PORT_SERVICE_AER, PCIE_PORT_SERVICE_HP,
                    PCIE_PORT_SERVICE_DPC, PCIE_PORT_SERVICE_BWCTRL):
        irqs[service] = desc
    _msi_enabled(dev, attrs, mask, 0, 0, 0)


def _init_service_irqs(dev, mask):
    irqs = {}
    # (mask & PME) && pcie_pme_no_msi(): false (no pcie_pme=nomsi quirk)
    if (yield from K.pcie_port_enable_irq_vec(dev, irqs, mask)) == 0:
        return irqs
    _intx(dev, irqs, mask, W.__dict__)
    return irqs


@mirrors("drivers/pci/pcie/portdrv_core.c", note="6.1: MSI-X/MSI, else the legacy INTx vector", v61=165)
def pcie_init_service_irqs(dev, mask):
    return (yield from _init_service_irqs(dev, mask))


@mirrors("drivers/pci/pcie/portdrv.c", note="MSI-X/MSI, else INTx", v612=177, v72=177)
def pcie_init_service_irqs(dev, mask):  # noqa: F811
    return (yield from _init_service_irqs(dev, mask))


def boot_service_irqs(dev, attrs, services):
    """The vectors pcie_init_service_irqs gave a port bound at boot (no model events)."""
    mask = sum(services)
    irqs = {}
    if _pci_alloc_irq_vectors(dev, attrs, 1, PCIE_PORT_MAX_MSI_ENTRIES, _names(dev, mask)) < 0 or \
            _enable_irq_vec(dev, irqs, mask, attrs, _message_numbers(dev, mask)):
        _intx(dev, irqs, mask, attrs)
    return irqs


def _pcie_port_device_register(dev):
    # pci_enable_device; get_port_device_capability; pci_set_master
    services = port_services(dev)
    if not services:
        return 0
    irqs = yield from K.pcie_init_service_irqs(dev, sum(services))
    for service in services:
        yield from K.pcie_device_init(dev, service, irqs.get(service))
    return 0


_REG_NOTE = "PME and AER (root ports), hotplug, DPC services on their vectors; bwctrl not modelled"


@mirrors("drivers/pci/pcie/portdrv_core.c", note=_REG_NOTE, v61=313)
def pcie_port_device_register(dev):
    return (yield from _pcie_port_device_register(dev))


@mirrors("drivers/pci/pcie/portdrv.c", note=_REG_NOTE, v612=329, v72=331)
def pcie_port_device_register(dev):  # noqa: F811
    return (yield from _pcie_port_device_register(dev))


def _remove_iter(dev):
    yield from K.device_lock(dev)  # device_del -> kill_device
    yield write(dev, "dead", True)
    yield from K.device_unlock(dev)
    yield from K.device_lock(dev)  # device_release_driver -> device_release_driver_internal
    if (yield read(dev, "driver")) is not None:
        yield from _service_remove(dev)
        for desc, dev_id in getattr(dev, "devm_irqs", ()):  # devres_release_all: devm_free_irq
            yield from K.free_irq(desc, dev_id)
        dev.devm_irqs = []
        yield write(dev, "driver", None)
    yield from K.device_unlock(dev)
    yield write(dev, "registered", False)
    yield from K.put_device(dev)  # device_unregister: the reference of device_initialize


_ITER_NOTE = ("device_unregister(svc): device_del (device_lock(svc) to kill it), bus_remove_device -> "
              "device_release_driver(svc) -> the service's remove")


@mirrors("drivers/pci/pcie/portdrv_core.c", note=_ITER_NOTE, v61=430)
def remove_iter(dev):
    yield from _remove_iter(dev)


@mirrors("drivers/pci/pcie/portdrv.c", note=_ITER_NOTE, v612=446, v72=448)
def remove_iter(dev):  # noqa: F811
    yield from _remove_iter(dev)


@mirrors("drivers/pci/pcie/portdrv_core.c", note="6.1: device_for_each_child(remove_iter); "
         "pci_free_irq_vectors; pci_disable_device", v61=487)
def pcie_port_device_remove(dev):
    for svc in _services(dev):
        yield from K.remove_iter(svc)
    _pci_free_irq_vectors(dev)  # msi_lock_descs (a leaf mutex); pci_disable_device(dev): no lock


@mirrors("drivers/pci/pcie/portdrv.c", note="device_for_each_child(remove_iter); pci_free_irq_vectors",
         v612=503, v72=505)
def pcie_port_device_remove(dev):  # noqa: F811
    for svc in _services(dev):
        yield from K.remove_iter(svc)
    _pci_free_irq_vectors(dev)  # msi_lock_descs (a leaf mutex)


@mirrors("drivers/pci/pcie/portdrv_pci.c", note="6.1", v61=101)
def pcie_portdrv_probe(dev):
    return (yield from K.pcie_port_device_register(dev))


@mirrors("drivers/pci/pcie/portdrv.c", v612=682, v72=685)
def pcie_portdrv_probe(dev):  # noqa: F811
    return (yield from K.pcie_port_device_register(dev))


@mirrors("drivers/pci/pcie/portdrv_pci.c", note="6.1", v61=142)
def pcie_portdrv_remove(dev):
    yield from K.pcie_port_device_remove(dev)


@mirrors("drivers/pci/pcie/portdrv.c", v612=723, v72=726)
def pcie_portdrv_remove(dev):  # noqa: F811
    yield from K.pcie_port_device_remove(dev)
    # pci_disable_device(dev)


def _boot_world(dev, attrs, version):
    """A port bound at boot: its vectors and its services as their probes left them."""
    from pcilock.kernel.drivers.pci.hotplug.pciehp_core import boot_pciehp

    from .aer import boot_aer
    from .dpc import boot_dpc
    from .pme import boot_pme

    services = []
    irqs = boot_service_irqs(dev, attrs, port_services(dev)) if port_services(dev) else {}
    for service in port_services(dev):
        if service == PCIE_PORT_SERVICE_HP and dev.peek("subordinate") is None:
            continue
        svc = PcieDevice(dev, service, irqs.get(service))
        svc.poke("registered", True)
        svc.poke("driver", SERVICE_DRIVERS[service])
        svc.poke("refcount", svc.peek("refcount") + 1)  # the probe's get_device
        services.append(svc)
        dev.pcie_services = list(services)
        if service == PCIE_PORT_SERVICE_PME:
            boot_pme(svc, attrs)
        elif service == PCIE_PORT_SERVICE_AER:
            boot_aer(svc, attrs)
        elif service == PCIE_PORT_SERVICE_HP:
            boot_pciehp(svc, attrs, version)
        else:
            boot_dpc(svc, attrs)


# -- error handlers (pcie_portdrv_err_handler) -----------------------------------------------------

@mirrors("drivers/pci/pcie/portdrv_pci.c", note="6.1", v61=153)
def pcie_portdrv_error_detected(dev, error):
    return 3 if error == "frozen" else 2  # PCI_ERS_RESULT_NEED_RESET / CAN_RECOVER
    yield


@mirrors("drivers/pci/pcie/portdrv.c", v612=747, v72=750)
def pcie_portdrv_error_detected(dev, error):  # noqa: F811
    return 3 if error == "frozen" else 2  # PCI_ERS_RESULT_NEED_RESET / CAN_RECOVER
    yield


def _slot_reset(dev):
    # device_for_each_child(&dev->dev, slot_reset offset, pcie_port_device_iter): bound services only
    for svc in _services(dev):
        if (yield read(svc, "driver")) is PCIEHP_DRIVER:
            yield from K.pciehp_slot_reset(svc)
    # pci_restore_state(dev) [6.x: pci_save_state(dev)]
    return 5  # PCI_ERS_RESULT_RECOVERED


@mirrors("drivers/pci/pcie/portdrv_pci.c", note="6.1", v61=161)
def pcie_portdrv_slot_reset(dev):
    return (yield from _slot_reset(dev))


@mirrors("drivers/pci/pcie/portdrv.c", v612=755, v72=758)
def pcie_portdrv_slot_reset(dev):  # noqa: F811
    return (yield from _slot_reset(dev))


@mirrors("drivers/pci/pcie/portdrv_pci.c", note="6.1", v61=171)
def pcie_portdrv_mmio_enabled(dev):
    return 5  # PCI_ERS_RESULT_RECOVERED
    yield


@mirrors("drivers/pci/pcie/portdrv.c", v612=765, v72=767)
def pcie_portdrv_mmio_enabled(dev):  # noqa: F811
    return 5  # PCI_ERS_RESULT_RECOVERED
    yield


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.pcie_portdrv_probe(d), remove=lambda d: K.pcie_portdrv_remove(d),
                    ids=lambda d: d.spec is not None and d.spec.type in PORT_TYPES)
    drv.boot_world = _boot_world
    drv.err_handler = {"error_detected": lambda d, s: K.pcie_portdrv_error_detected(d, s),
                       "slot_reset": lambda d: K.pcie_portdrv_slot_reset(d),
                       "mmio_enabled": lambda d: K.pcie_portdrv_mmio_enabled(d)}
    return drv
