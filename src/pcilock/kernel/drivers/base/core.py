"""drivers/base/core.c: device_add / device_del / kill_device / device_remove_file_self."""

from __future__ import annotations

from pcilock._engine_imports import read, write
from pcilock.kernel._model import K, W, mirrors


@mirrors("drivers/base/core.c", v61=3825, v612=3886, v72=3884)
def kill_device(dev):
    yield from K.device_lock_assert(dev)
    if (yield read(dev, "dead")):
        return False
    yield write(dev, "dead", True)
    return True


@mirrors("drivers/base/core.c", note="sysfs part only: type groups created, bus klist add, ready to probe "
         "(under the device lock), initial probe", v61=3579, v612=3641, v72=3639)
def device_add(dev):
    yield from W.kernfs_create_files(dev)  # the type groups and the bus dev_groups (their is_visible)
    yield write(dev, "registered", True)
    yield from K.bus_add_device(dev)
    # from the klist add on, a driver loaded meanwhile may try to probe: ready_to_probe defers it
    yield from K.device_lock(dev)
    yield write(dev, "ready_to_probe", True, marked=True)  # dev_set_ready_to_probe: set_bit
    yield from K.device_unlock(dev)
    yield from K.bus_probe_device(dev)


@mirrors("drivers/base/core.c", v61=2961, v612=3029, v72=3031)
def device_remove_attrs(dev):
    # dev->groups and the TYPE groups (PCI: remove, rescan, sriov_*): each removal drains
    for attr in dev.type_attrs:
        kn = dev.kn.get(attr)
        if kn is not None:
            yield from K.kernfs_remove(kn)


@mirrors("drivers/base/core.c", v61=3856, v612=3917, v72=3915)
def device_del(dev):
    yield from K.device_lock(dev)
    yield from K.kill_device(dev)
    yield from K.device_unlock(dev)
    # steps 2..9: notifiers, power/ group, class links: no PCI lock involved
    yield from K.device_remove_attrs(dev)
    yield from K.bus_remove_device(dev)
    # steps 12..16: pm, links, devres, notifier, uevent
    yield from K.kobject_del(dev)


@mirrors("lib/kobject.c", note="__kobject_del: sysfs_remove_dir drains every remaining node of the device, "
         "then state_in_sysfs and the parent are cleared", v61=611, v612=619, v72=619)
def kobject_del(dev):
    for attr in dev.other_attrs:
        kn = dev.kn.get(attr)
        if kn is not None:
            yield from K.kernfs_remove(kn)
    yield write(dev, "registered", False)


@mirrors("drivers/base/core.c", v61=3083, v612=3151, v72=3153)
def device_remove_file_self(dev, attr):
    return (yield from K.sysfs_remove_file_self(dev, attr))


@mirrors("drivers/base/core.c", v61=3941, v612=4001, v72=3999)
def device_unregister(dev):
    yield from K.device_del(dev)
    yield from K.put_device(dev)


