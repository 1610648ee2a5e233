"""Model driver pcieport (drivers/pci/pcie/portdrv.c; v6.1: portdrv_core.c + portdrv_pci.c).

Binds PCIe root, upstream and downstream ports.  On a hotplug port (scenario
``hotplug = true``) it registers the pciehp service device (``struct
pcie_device`` on ``pcie_port_bus_type``) and pciehp binds to it
(:mod:`pcilock.kernel.drivers.pci.hotplug.pciehp_core`).  Other port services
(AER, PME, DPC, bwctrl) are not modelled.

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
PCIE_PORT_SERVICE_HP = 4
PORT_TYPES = ("root-port", "upstream-port", "downstream-port")


class PcieDevice(Device):
    """``struct pcie_device``: a port service device (child of the port's ``struct device``)."""

    def __init__(self, port, service, **kw):
        super().__init__(f"{port.bdf}:pcie{service:03x}", parent=port, **kw)
        self.port = port
        self.service = service
        self.service_data = None


PCIEHP_DRIVER = DeviceDriver("pciehp")


def _services(port):
    return getattr(port, "pcie_services", [])


@mirrors("drivers/pci/pcie/portdrv_core.c", note="6.1", v61=502)
def pcie_port_probe_service(dev):
    return (yield from K.pciehp_probe(dev))


@mirrors("drivers/pci/pcie/portdrv.c", v612=517)
def pcie_port_probe_service(dev):  # noqa: F811
    return (yield from K.pciehp_probe(dev))


@mirrors("drivers/pci/pcie/portdrv.c", note="7.2: pcie_port_bus_type.probe", v72=534)
def pcie_port_bus_probe(dev):
    return (yield from K.pciehp_probe(dev))


@mirrors("drivers/pci/pcie/portdrv_core.c", note="6.1", v61=533)
def pcie_port_remove_service(dev):
    yield from K.pciehp_remove(dev)
    yield from K.put_device(dev)


@mirrors("drivers/pci/pcie/portdrv.c", v612=548)
def pcie_port_remove_service(dev):  # noqa: F811
    yield from K.pciehp_remove(dev)
    yield from K.put_device(dev)


@mirrors("drivers/pci/pcie/portdrv.c", note="7.2: pcie_port_bus_type.remove", v72=562)
def pcie_port_bus_remove(dev):
    yield from K.pciehp_remove(dev)
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
    yield write(dev, "driver", PCIEHP_DRIVER)
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


def _pcie_port_device_register(dev):
    # pci_enable_device, pcie_init_service_irqs: no lock
    if dev.spec is not None and dev.spec.hotplug:
        yield from K.pcie_device_init(dev, PCIE_PORT_SERVICE_HP, None)
    return 0


_REG_NOTE = "only the hotplug service of a hotplug port is modelled"


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
        yield write(dev, "driver", None)
    yield from K.device_unlock(dev)
    yield write(dev, "registered", False)


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


@mirrors("drivers/pci/pcie/portdrv.c", v612=503, v72=505)
def pcie_port_device_remove(dev):  # noqa: F811
    for svc in _services(dev):
        yield from K.remove_iter(svc)


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
    """A port bound at boot: its pciehp service as pciehp_probe left it."""
    from pcilock.kernel.drivers.pci.hotplug.pciehp_core import boot_pciehp

    if dev.spec is None or not dev.spec.hotplug or dev.peek("subordinate") is None:
        return
    svc = PcieDevice(dev, PCIE_PORT_SERVICE_HP)
    svc.poke("registered", True)
    svc.poke("driver", PCIEHP_DRIVER)
    dev.pcie_services = [svc]
    boot_pciehp(svc, attrs, version)


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.pcie_portdrv_probe(d), remove=lambda d: K.pcie_portdrv_remove(d),
                    ids=lambda d: d.spec is not None and d.spec.type in PORT_TYPES)
    drv.boot_world = _boot_world
    return drv
