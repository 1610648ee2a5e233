"""``struct device`` and ``struct device_driver``, as far as the model needs them.

Mirrors include/linux/device.h and drivers/base/base.h (``struct device_private``:
``dead``, ``knode_driver``) in v6.1, v6.12 and v7.2; the fields used here have the
same meaning in all three.

Shared fields (read and written through engine operations, because the kernel
touches them without a common lock): ``driver`` (``dev->driver``; unbind_store
reads it without the device lock), ``dead`` (``dev->p->dead``), ``registered``
(``device_is_registered``: kobject in sysfs, from device_add to device_del),
``ready_to_probe`` (set by device_add under the device lock once the device may be
probed: ``__driver_probe_device`` defers before that), ``on_bus`` (in the bus klist:
bus_find_device sees it), ``refcount``.
"""

from __future__ import annotations

from pcilock._engine_imports import Mutex, Shared


class Device(Shared):
    _shared_ = {
        "driver": None,
        "dead": False,
        "registered": False,
        "ready_to_probe": False,  # DEV_FLAG_READY_TO_PROBE (dev->flags, atomic bitops)
        "async_driver": None,  # dev->p->async_driver: the driver an async attach helper will probe
        "on_bus": False,
        "refcount": 1,
    }

    def __init__(self, name, parent=None, **kw):
        super().__init__(**kw)
        self.name = name  # dev_name()
        self.parent = parent
        self.bus_type = None  # dev->bus: "pci" for a pci_dev; None for a class device (pci_bus)
        # device_initialize(): mutex_init + lockdep_set_novalidate_class
        self.mutex = Mutex(f"&dev->mutex {name}", "&dev->mutex", validate=False)
        self.kn = {}  # sysfs attribute name -> KernfsNode, created by device_add
        self.attr_groups = []  # [(step, [attribute names])] in removal order

    def describe(self):
        return self.name


class DeviceDriver(Shared):
    """``struct device_driver`` plus the driver's sysfs bind/unbind files.

    ``devices`` is the driver's klist of bound devices (``drv->p->klist_devices``),
    in bind order; ``registered``: on the bus's driver list (module loaded).
    ``kn``: the nodes of ``/sys/bus/pci/drivers/NAME/{bind,unbind}`` that a path
    lookup finds (attribute name -> KernfsNode).  The initial nodes are those of a
    driver loaded at boot; ``bus_add_driver`` replaces them (a new directory, the
    files created after ``driver_attach``) and ``bus_remove_driver`` drains them
    (``remove_bind_files``).  While the driver is not registered the directory
    does not exist (the lookup checks ``registered`` first).  bind/unbind are
    ``DRIVER_ATTR_IGNORE_LOCKDEP``; device removal never drains them.
    """

    _shared_ = {"devices": (), "registered": False, "kn": dict}

    def __init__(self, name, **kw):
        from .kernfs import KernfsNode

        kw.setdefault("kn", {a: KernfsNode(f"drivers/{name}", a) for a in ("unbind", "bind")})
        super().__init__(**kw)
        self.name = name

    def describe(self):
        return self.name


# -- include/linux/device.h inline helpers -------------------------------------
from pcilock._engine_imports import assert_held, lock, rmw, trylock, unlock  # noqa: E402
from pcilock.kernel._model import mirrors  # noqa: E402


@mirrors("include/linux/device.h", v61=883, v612=1011, v72=1102)
def device_lock(dev):
    yield lock(dev.mutex)


@mirrors("include/linux/device.h", v61=893, v612=1021, v72=1112)
def device_trylock(dev):
    return (yield trylock(dev.mutex))


@mirrors("include/linux/device.h", v61=898, v612=1026, v72=1117)
def device_unlock(dev):
    yield unlock(dev.mutex)


@mirrors("include/linux/device.h", v61=903, v612=1033, v72=1125)
def device_lock_assert(dev):
    yield assert_held(dev.mutex, f"device_lock_assert({dev.name})")


@mirrors("drivers/base/core.c", v61=3807, v612=3868, v72=3866)
def get_device(dev):
    if dev is not None:
        yield rmw(dev, "refcount", lambda v: v + 1)
    return dev


@mirrors("drivers/base/core.c", v61=3817, v612=3878, v72=3876)
def put_device(dev):
    if dev is not None:
        yield rmw(dev, "refcount", lambda v: v - 1)
