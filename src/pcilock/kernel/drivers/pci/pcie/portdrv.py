"""Model driver pcieport (drivers/pci/pcie/portdrv.c; v6.1: portdrv_core.c + portdrv_pci.c).

Binds PCIe root, upstream and downstream ports.  On a hotplug port (scenario
``hotplug = true``) it registers the pciehp service device (``struct
pcie_device`` on ``pcie_port_bus_type``) and pciehp binds to it
(:mod:`pcilock.kernel.drivers.pci.hotplug.pciehp_core`).  A Root Port also
gets the AER service (:mod:`.aer`: every root port has AER and the OS owns it
in the model; switch ports' AER service devices, which ``aer_probe`` rejects,
are not created), and a port with ``dpc = true`` the DPC service
(:mod:`.dpc`), in the kernel's service order (AER, hotplug, DPC).  AER and
DPC request their interrupts with ``devm_request_threaded_irq``: devres frees
them after the service's ``.remove`` when the service device is unbound
(``free_irq`` waits for the service's IRQ thread).  PME and bwctrl are not
modelled.

Error handlers (``pcie_portdrv_err_handler``, portdrv.c; v6.1 portdrv_pci.c):
``error_detected`` (NEED_RESET when frozen, else CAN_RECOVER),
``mmio_enabled`` (RECOVERED) and ``slot_reset``, which calls each bound
service's ``slot_reset`` (pciehp's ``pciehp_slot_reset``) through
``device_for_each_child`` (a klist walk: no sleeping lock) and restores the
config space.  None takes a lock.

Locks (notes §2): ``pcie_portdrv_probe`` runs under ``device_lock(port)``;
registering the service device probes pciehp under ``device_lock(svc)``
(``pcie_port_bus_type`` has no ``need_parent_lock``).  ``pcie_portdrv_remove``
runs under ``device_lock(port)`` (+ ``pci_rescan_remove_lock`` when the port
is removed by remove_store / a parent pciehp / EEH) and unregisters the
service device: ``device_del`` takes ``device_lock(svc)`` to kill it, then
``device_release_driver(svc)`` takes it again around ``pciehp_remove``, whose
``free_irq`` waits for the port's IRQ thread.  The generic driver-core steps
for the service device are written out here (the model's driver core is the
PCI bus type's); the sysfs files of the service device are not modelled.
"""

from __future__ import annotations

from pcilock._engine_imports import read, write
from pcilock.kernel._model import K, mirrors
from pcilock.kernel.include.linux.device import Device, DeviceDriver
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "pcieport"
PCIE_PORT_SERVICE_AER = 2
PCIE_PORT_SERVICE_HP = 4
PCIE_PORT_SERVICE_DPC = 8
PORT_TYPES = ("root-port", "upstream-port", "downstream-port")


class PcieDevice(Device):
    """``struct pcie_device``: a port service device (child of the port's ``struct device``)."""

    def __init__(self, port, service, **kw):
        super().__init__(f"{port.bdf}:pcie{service:03x}", parent=port, **kw)
        self.port = port
        self.service = service
        self.service_data = None


PCIEHP_DRIVER = DeviceDriver("pciehp")
AER_DRIVER = DeviceDriver("aer")
DPC_DRIVER = DeviceDriver("dpc")
SERVICE_DRIVERS = {PCIE_PORT_SERVICE_AER: AER_DRIVER, PCIE_PORT_SERVICE_HP: PCIEHP_DRIVER,
                   PCIE_PORT_SERVICE_DPC: DPC_DRIVER}
_PROBE = {PCIE_PORT_SERVICE_AER: "aer_probe", PCIE_PORT_SERVICE_HP: "pciehp_probe",
          PCIE_PORT_SERVICE_DPC: "dpc_probe"}
_REMOVE = {PCIE_PORT_SERVICE_AER: "aer_remove", PCIE_PORT_SERVICE_HP: "pciehp_remove",
           PCIE_PORT_SERVICE_DPC: "dpc_remove"}


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
    dev = PcieDevice(pdev, service)
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
    """The services pcie_port_device_register registers for *dev*, in service-bit order."""
    from .dpc import has_dpc_cap

    spec = dev.spec
    out = []
    if dev.type == "root-port":
        out.append(PCIE_PORT_SERVICE_AER)
    if spec is not None and spec.hotplug:
        out.append(PCIE_PORT_SERVICE_HP)
    if has_dpc_cap(dev):
        out.append(PCIE_PORT_SERVICE_DPC)
    return out


def _pcie_port_device_register(dev):
    # pci_enable_device, pcie_init_service_irqs: no lock
    for service in port_services(dev):
        yield from K.pcie_device_init(dev, service, None)
    return 0


_REG_NOTE = "AER (root ports), hotplug, DPC services; PME and bwctrl not modelled"


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
    # pci_free_irq_vectors(dev): msi_lock_descs (a leaf mutex); pci_disable_device(dev): no lock


@mirrors("drivers/pci/pcie/portdrv.c", note="device_for_each_child(remove_iter); pci_free_irq_vectors",
         v612=503, v72=505)
def pcie_port_device_remove(dev):  # noqa: F811
    for svc in _services(dev):
        yield from K.remove_iter(svc)
    # pci_free_irq_vectors(dev): msi_lock_descs (a leaf mutex)


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
    """A port bound at boot: its services as their probes left them."""
    from pcilock.kernel.drivers.pci.hotplug.pciehp_core import boot_pciehp

    from .aer import boot_aer
    from .dpc import boot_dpc

    services = []
    for service in port_services(dev):
        if service == PCIE_PORT_SERVICE_HP and dev.peek("subordinate") is None:
            continue
        svc = PcieDevice(dev, service)
        svc.poke("registered", True)
        svc.poke("driver", SERVICE_DRIVERS[service])
        svc.poke("refcount", svc.peek("refcount") + 1)  # the probe's get_device
        services.append(svc)
        dev.pcie_services = list(services)
        if service == PCIE_PORT_SERVICE_AER:
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
