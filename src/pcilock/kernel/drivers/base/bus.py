"""drivers/base/bus.c: the driver bind/unbind files, adding and removing bus devices."""

from __future__ import annotations

from pcilock._engine_imports import read, rmw, write
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.fs_nodes import make_nodes


@mirrors("include/linux/device/bus.h", note="inline bus_find_device_by_name -> bus_find_device (bus.c): "
         "klist walk, takes a reference, no device lock", v61=176, v612=157, v72=169)
def bus_find_device_by_name(name):
    for dev in (yield read(W.pci_bus_type, "klist", marked=True)):
        if dev.name == name:
            yield from K.get_device(dev)
            return dev
    return None


@mirrors("drivers/base/bus.c", v61=184, v612=235, v72=235)
def unbind_store(drv, buf):
    err = -19
    dev = yield from K.bus_find_device_by_name(buf)
    if dev is not None and (yield read(dev, "driver")) is drv:  # read without the device lock
        yield from K.device_driver_detach(dev)
        err = len(buf)
    yield from K.put_device(dev)
    return err


@mirrors("drivers/base/bus.c", v61=207, v612=258, v72=258)
def bind_store(drv, buf):
    err = -19
    dev = yield from K.bus_find_device_by_name(buf)
    if dev is not None and (yield from K.pci_bus_match(dev, drv)):
        err = yield from K.device_driver_attach(drv, dev)
        if err == 0:
            err = len(buf)
    yield from K.put_device(dev)
    return err


@mirrors("drivers/base/bus.c", v61=443, v612=504, v72=545)
def bus_add_device(dev):
    if dev.bus_type is None:  # a class device (the pci_bus one): nothing to do
        return 0
    yield rmw(W.pci_bus_type, "klist", lambda t: t + (dev,))


@mirrors("drivers/base/bus.c", note="6.1: checks drivers_autoprobe here", v61=480)
def bus_probe_device(dev):
    if dev.bus_type is None:
        return
    if (yield read(W.pci_bus_type, "drivers_autoprobe")):
        yield from K.device_initial_probe(dev)


@mirrors("drivers/base/bus.c", note="6.12/7.2: the autoprobe check moved into device_initial_probe",
         v612=589, v72=612)
def bus_probe_device(dev):  # noqa: F811
    if dev.bus_type is None:  # no subsys_private: return early
        return
    yield from K.device_initial_probe(dev)


@mirrors("drivers/base/bus.c", v61=508, v612=613, v72=640)
def bus_remove_device(dev):
    if dev.bus_type is None:
        return
    # bus dev_groups (PCI: reset, reset_method, config, ...) are drained first
    for attr in dev.bus_attrs:
        kn = dev.kn.get(attr)
        if kn is not None:
            yield from K.kernfs_remove(kn)
    yield rmw(W.pci_bus_type, "klist", lambda t: tuple(d for d in t if d is not dev))  # klist_del
    yield from K.device_release_driver(dev)


@mirrors("drivers/base/bus.c", note="unbind first, then bind; DRIVER_ATTR_IGNORE_LOCKDEP",
         v61=535, v612=648, v72=675)
def add_bind_files(drv):
    # driver_create_file(unbind), driver_create_file(bind): visible to path lookups from here
    yield write(drv, "kn", make_nodes(f"drivers/{drv.name}", ("unbind", "bind")), marked=True)


@mirrors("drivers/base/bus.c", note="bind first, then unbind; each removal drains the node's writers",
         v61=548, v612=661, v72=688)
def remove_bind_files(drv):
    files = yield read(drv, "kn", marked=True)
    for attr in ("bind", "unbind"):
        kn = files.get(attr)
        if kn is not None:
            yield from K.kernfs_remove(kn)  # driver_remove_file -> sysfs_remove_file


@mirrors("drivers/base/bus.c", note="the bind/unbind files are created last, after driver_attach",
         v61=592, v612=705, v72=732)
def bus_add_driver(drv):
    # kobject_init_and_add: a new /sys/bus/pci/drivers/NAME directory, without bind files yet
    yield write(drv, "kn", {}, marked=True)
    yield rmw(W.pci_bus_type, "drivers", lambda t: t + (drv,))  # klist_add_tail(knode_bus)
    yield write(drv, "registered", True, marked=True)
    if (yield read(W.pci_bus_type, "drivers_autoprobe")):
        yield from K.driver_attach(drv)
    # module_add_driver, uevent file, bus drv_groups: no lock of the model
    yield from K.add_bind_files(drv)  # !suppress_bind_attrs (every model driver)
    return 0


@mirrors("drivers/base/bus.c", note="remove_bind_files first: bind/unbind writers finish before the detach",
         v61=668, v612=791, v72=818)
def bus_remove_driver(drv):
    yield from K.remove_bind_files(drv)  # !suppress_bind_attrs (every model driver)
    # driver_remove_groups, uevent file: no lock of the model
    yield rmw(W.pci_bus_type, "drivers", lambda t: tuple(d for d in t if d is not drv))  # klist_remove
    yield write(drv, "registered", False, marked=True)
    yield from K.driver_detach(drv)


@mirrors("drivers/base/driver.c", v61=222, v612=222, v72=150)
def driver_register(drv):
    return (yield from K.bus_add_driver(drv))


@mirrors("drivers/base/driver.c", v61=267, v612=267, v72=195)
def driver_unregister(drv):
    yield from K.bus_remove_driver(drv)
