"""What a scenario's operation lines do: the system-call side of each command.

Model-only: mirrors no kernel function of its own: each entry here is what the shell command
reaches (``write(2)`` on a sysfs file → ``kernfs_fop_write_iter`` → the
attribute's store method, ``modprobe`` → ``pci_register_driver``, ...).  The
kernel functions it calls are the mirrored ones, through ``K``.

An operation is an :class:`Op` (kind, args) made by the scenario parser.
Kinds are registered in :data:`OPS` by the modules implementing them, so the
parser can reject a line no module supports.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcilock._engine_imports import note, read

from ._model import K, W

ENOENT, EEXIST = -2, -17


@dataclass(frozen=True)
class Op:
    kind: str
    args: tuple
    text: str = ""
    line: int = 0


OPS = {}


def op(kind, versions=None):
    """Register the generator function implementing operation *kind*."""

    def deco(fn):
        OPS[kind] = (fn, versions)
        return fn

    return deco


START_HOOKS = []


def start_hook(fn):
    """Register ``fn(thread_name)``, a generator run when each scenario thread starts, before its
    first operation line (e.g. to give it the files it holds open since boot).  It must perform
    only local operations (no scheduling point), so it is done before any thread runs."""
    START_HOOKS.append(fn)
    return fn


def thread_start(name):
    for fn in START_HOOKS:
        yield from fn(name)


def run(o):
    fn, _ = OPS[o.kind]
    yield note(o.text)
    ret = yield from fn(*o.args)
    return ret


def lookup_dev(bdf):
    """Path lookup of /sys/bus/pci/devices/BDF: the device must be registered."""
    for dev in (yield read(W.pci_bus_type, "klist", marked=True)):
        if dev.name == bdf:
            return dev
    return None


DEV_STORES = {
    "remove": lambda dev: (lambda buf: K.remove_store(dev, buf)),
    "rescan": lambda dev: (lambda buf: K.dev_rescan_store(dev, buf)),
    "reset": lambda dev: (lambda buf: K.reset_store(dev, buf)),
    "reset_method": lambda dev: (lambda buf: K.reset_method_store(dev, buf)),
    "reset_subordinate": lambda dev: (lambda buf: K.reset_subordinate_store(dev, buf)),
    "sriov_numvfs": lambda dev: (lambda buf: K.sriov_numvfs_store(dev, buf)),
    "sriov_drivers_autoprobe": lambda dev: (lambda buf: K.sriov_drivers_autoprobe_store(dev, buf)),
    "sriov_vf_msix_count": lambda dev: (lambda buf: K.sriov_vf_msix_count_store(dev, buf)),
}

DEV_SHOWS = {
    "sriov_numvfs": lambda dev: (lambda: K.sriov_numvfs_show(dev)),
    "sriov_vf_total_msix": lambda dev: (lambda: K.sriov_vf_total_msix_show(dev)),
}


@op("dev_attr_write")
def dev_attr_write(bdf, attr, value):
    dev = yield from lookup_dev(bdf)
    if dev is None or attr not in dev.kn:
        return ENOENT
    return (yield from K.kernfs_fop_write_iter(dev.kn[attr], DEV_STORES[attr](dev), value))


@op("dev_attr_read")
def dev_attr_read(bdf, attr):
    dev = yield from lookup_dev(bdf)
    if dev is None or attr not in dev.kn:
        return ENOENT
    return (yield from K.kernfs_fop_read_iter(dev.kn[attr], DEV_SHOWS[attr](dev)))


@op("bus_rescan")
def bus_rescan(value):
    return (yield from K.rescan_store(value))


@op("class_bus_rescan")
def class_bus_rescan(busname, value):
    # path lookup of /sys/class/pci_bus/DDDD:BB/rescan: the file exists from device_add of the bus's
    # class device; once device_del drained it, kernfs_get_active fails (-ENODEV)
    bus = W.find_bus(int(busname[:4], 16), int(busname[5:7], 16))
    kn = bus.dev.kn.get("rescan") if bus is not None else None
    if kn is None:
        return ENOENT
    return (yield from K.kernfs_fop_write_iter(kn, lambda buf: K.bus_rescan_store(bus, buf), value))


def lookup_driver_file(drv, attr):
    """Path lookup of /sys/bus/pci/drivers/NAME/ATTR: no directory while the module is not
    loaded; between the directory's creation and add_bind_files, no bind/unbind file."""
    if not (yield read(drv, "registered", marked=True)):
        return None
    return (yield read(drv, "kn", marked=True)).get(attr)


@op("driver_unbind")
def driver_unbind(driver, bdf):
    drv = W.pci_drivers[driver]
    kn = yield from lookup_driver_file(drv, "unbind")
    if kn is None:
        return ENOENT
    return (yield from K.kernfs_fop_write_iter(kn, lambda buf: K.unbind_store(drv, buf), bdf))


@op("driver_bind")
def driver_bind(driver, bdf):
    drv = W.pci_drivers[driver]
    kn = yield from lookup_driver_file(drv, "bind")
    if kn is None:
        return ENOENT
    return (yield from K.kernfs_fop_write_iter(kn, lambda buf: K.bind_store(drv, buf), bdf))


@op("modprobe")
def modprobe(driver):
    """kmod: a module whose initstate is live is already loaded (nothing to do); otherwise
    finit_module(2), whose EEXIST (another loader finished first) modprobe reports as success."""
    mod = W.pci_drivers[driver].owner
    if (yield read(mod, "state", marked=True)) == "live":
        return 0
    ret = yield from K.load_module(mod)
    return 0 if ret == EEXIST else ret


@op("modprobe_r")
def modprobe_r(driver):
    """delete_module(2): refused (EWOULDBLOCK) while the module is in use, e.g. by an open vfio
    device file; otherwise the driver's module_exit (pci_unregister_driver) runs."""
    return (yield from K.delete_module(W.pci_drivers[driver].owner))
