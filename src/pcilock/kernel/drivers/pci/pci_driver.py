"""drivers/pci/pci-driver.c: probe and remove through the PCI bus type."""

from __future__ import annotations

from pcilock._engine_imports import read, write
from pcilock.kernel._model import K, mirrors

ENODEV = -19
PCI_DEV_ALLOW_BINDING = 7


@mirrors("drivers/pci/pci-driver.c", v61=334, v612=336, v72=336)
def local_pci_probe(drv, dev):
    yield write(dev, "pci_driver", drv)
    rc = yield from drv.probe(dev)
    if rc == 0:
        return 0
    if rc < 0:
        yield write(dev, "pci_driver", None)
        return rc
    return 0


@mirrors("drivers/pci/pci-driver.c", v61=370, v612=372, v72=386)
def pci_physfn_is_probed(dev):
    return dev.is_virtfn and (yield read(dev.physfn, "is_probed"))


@mirrors("drivers/pci/pci-driver.c", note="6.x: work_on_cpu on the device's node", v61=379, v612=381)
def pci_call_probe(drv, dev):
    node = dev.numa_node
    yield write(dev, "is_probed", True)
    local = node < 0 or (yield from K.pci_physfn_is_probed(dev))
    if not local:
        t = yield from K.work_on_cpu_key(K.local_pci_probe, (drv, dev), f"kworker probe {dev.bdf}")
        error = t.result
    else:
        error = yield from K.local_pci_probe(drv, dev)
    yield write(dev, "is_probed", False)
    return error


@mirrors("drivers/pci/pci-driver.c", note="7.2: queue_work_on(pci_probe_wq) + flush_work", v72=395)
def pci_call_probe(drv, dev):  # noqa: F811
    node = dev.numa_node
    yield write(dev, "is_probed", True)
    local = node < 0 or (yield from K.pci_physfn_is_probed(dev))
    if local:
        error = yield from K.local_pci_probe(drv, dev)
    else:
        work = yield from K.queue_work_on(K.local_pci_probe, (drv, dev), f"kworker probe {dev.bdf}")
        yield from K.flush_work(work)
        error = work.result
    yield write(dev, "is_probed", False)
    return error


@mirrors("drivers/pci/pci-driver.c", v61=462, v612=455, v72=484)
def pci_device_can_probe(dev):
    if not dev.is_virtfn:
        return True
    if (yield read(dev.physfn.sriov, "drivers_autoprobe")):
        return True
    return (yield read(dev, "driver_override")) is not None


@mirrors("drivers/pci/pci-driver.c", v61=436, v612=438, v72=467)
def __pci_device_probe(drv, dev):
    if drv.probe is None:
        return 0
    if not (yield from K.pci_match_device(drv, dev)):  # honours driver_override
        return ENODEV
    return (yield from K.pci_call_probe(drv, dev))


@mirrors("drivers/pci/pci-driver.c", v61=474, v612=467, v72=496)
def pci_device_probe(dev):
    drv = yield read(dev, "driver")  # to_pci_driver(dev->driver)
    if not (yield from K.pci_device_can_probe(dev)):
        return ENODEV
    yield from K.get_device(dev)  # pci_dev_get
    error = yield from K.__pci_device_probe(drv, dev)
    if error:
        yield from K.put_device(dev)
    return error


@mirrors("drivers/pci/pci-driver.c", v61=499, v612=492, v72=521)
def pci_device_remove(dev):
    drv = yield read(dev, "pci_driver")  # pci_dev->driver
    if drv.remove is not None:
        # pm_runtime_get_sync + pm_runtime_barrier around .remove: runtime PM is not modelled (dd.py)
        yield from drv.remove(dev)
    yield write(dev, "pci_driver", None)
    yield from K.pci_iov_remove(dev)
    yield from K.put_device(dev)  # pci_dev_put


@mirrors("drivers/pci/pci-driver.c", note="6.x: pci_dev->match_driver", v61=1545, v612=1534)
def pci_bus_match(dev, drv):
    if not (yield read(dev, "match_driver")):
        return False
    return (yield from K.pci_match_device(drv, dev))


@mirrors("drivers/pci/pci-driver.c", note="7.2: PCI_DEV_ALLOW_BINDING", v72=1559)
def pci_bus_match(dev, drv):  # noqa: F811
    if PCI_DEV_ALLOW_BINDING not in (yield read(dev, "priv_flags", marked=True)):
        return False
    return (yield from K.pci_match_device(drv, dev))


@mirrors("drivers/pci/pci-driver.c", v61=190, v612=190, v72=190)
def pci_match_device(drv, dev):
    override = yield read(dev, "driver_override")
    if override is not None:
        return override == drv.name
    return bool(drv.ids(dev))
    yield


@mirrors("drivers/pci/pci-driver.c", v61=1475, v612=1463, v72=1488)
def __pci_register_driver(drv):
    return (yield from K.driver_register(drv))


@mirrors("include/linux/pci.h", note="macro: __pci_register_driver(driver, THIS_MODULE, KBUILD_MODNAME)",
         v61=1547, v612=1625, v72=1688)
def pci_register_driver(drv):
    return (yield from K.__pci_register_driver(drv))


@mirrors("drivers/pci/pci-driver.c", v61=1504, v612=1492, v72=1517)
def pci_unregister_driver(drv):
    yield from K.driver_unregister(drv)
