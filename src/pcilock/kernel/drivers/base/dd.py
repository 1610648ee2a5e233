"""drivers/base/dd.c: binding and unbinding drivers.

For PCI devices ``__device_driver_lock(dev, parent)`` is just ``device_lock(dev)``:
``pci_bus_type`` does not set ``need_parent_lock`` (all three versions).
Device links (``device_links_busy``) are not modelled: no PCI path in the
catalogue has managed device links.

Runtime PM is not modelled, by decision (audit-core F8).  Its waits under the
locks of the model are ``pm_runtime_get_sync(dev->parent)`` under
``device_lock(dev)`` (``__driver_probe_device``, ``__device_attach``),
``pm_runtime_get_sync(dev)`` in ``__device_release_driver`` and
``pci_device_remove``, and ``pm_runtime_get_sync(bridge)`` under
pci_rescan_remove_lock in ``pci_scan_bridge_extend``.  Resuming a suspended
pciehp port runs ``pciehp_check_presence``: ``reset_lock`` (read), then
``state_lock``, both released before the resume returns.  That is the only lock
of the model a resume takes, and it closes no cycle:
- every task that holds ``reset_lock`` while waiting for something else is the
  port's IRQ thread (read; it waits for pci_rescan_remove_lock and device locks),
  and ``pciehp_ist`` holds a runtime-PM reference on the port for that whole
  time (``pci_config_pm_runtime_get``), so the port is active and a concurrent
  ``pm_runtime_get_sync`` of it returns without running the resume;
- the writer (``pciehp_reset_slot``) holds ``reset_lock`` only around the bus
  reset, waiting for nothing; and the resume's own ``state_lock`` section waits
  for nothing.
So an edge X -> reset_lock(read) from a resume can only wait for a reset in
progress or for another resume, which finish without it: no wait-for cycle in
any scenario the catalogue can write.  The assumption is stated for the
catalogue (ports are not runtime-suspended while they hold their reset lock,
which is what the kernel guarantees), not "ports never suspend".
"""

from __future__ import annotations

from pcilock._engine_imports import read, rmw, spawn, write
from pcilock.kernel._model import K, W, mirrors

ENODEV, EBUSY, EAGAIN, EPROBE_DEFER = -19, -16, -11, -517


@mirrors("drivers/base/dd.c", note="6.1: plain stores of dev->driver", v61=None)
def device_set_driver(dev, drv):
    yield write(dev, "driver", drv)


@mirrors("drivers/base/base.h", note="6.12/7.2: WRITE_ONCE(dev->driver, drv)", v612=184, v72=203)
def device_set_driver(dev, drv):  # noqa: F811
    yield write(dev, "driver", drv, marked=True)


@mirrors("drivers/base/dd.c", v61=392, v612=458, v72=446)
def driver_bound(dev):
    drv = yield read(dev, "driver")
    yield rmw(drv, "devices", lambda t: t + (dev,))


@mirrors("drivers/base/dd.c", v61=583, v612=663, v72=652)
def really_probe(dev, drv):
    yield from K.device_set_driver(dev, drv)
    ret = yield from K.pci_device_probe(dev)  # call_driver_probe: bus->probe
    if ret:
        # probe errors are returned as positive values, so that callers tell them from other errors
        yield from K.device_set_driver(dev, None)  # device_unbind_cleanup
        return -ret
    yield from K.driver_bound(dev)
    return 0


@mirrors("drivers/base/dd.c", v61=763, v612=838, v72=827)
def __driver_probe_device(drv, dev):
    if (yield read(dev, "dead")) or not (yield read(dev, "registered")):
        return ENODEV
    if (yield read(dev, "driver")) is not None:
        return EBUSY
    if not (yield read(dev, "ready_to_probe", marked=True)):  # dev_ready_to_probe: test_bit
        return EPROBE_DEFER  # device_add has not finished: it probes again itself
    # dev_set_can_match, pm_runtime_get_suppliers, parent resume (runtime PM: see module docstring)
    return (yield from K.really_probe(dev, drv))


@mirrors("drivers/base/dd.c", note="-EPROBE_DEFER / EPROBE_DEFER: driver_deferred_probe_add (the deferred "
         "probe work is not modelled: the model's only deferral is a device not yet ready, which "
         "device_add probes itself)", v61=828, v612=903, v72=892)
def driver_probe_device(drv, dev):
    return (yield from K.__driver_probe_device(drv, dev))


@mirrors("drivers/base/dd.c", v61=925, v612=1000, v72=989)
def __device_attach_driver(drv, dev, data):
    if not (yield from K.pci_bus_match(dev, drv)):
        return 0
    async_ok = drv.async_probe
    if async_ok:
        data["have_async"] = True
    if data["check_async"] and async_ok != data["want_async"]:
        return 0
    ret = yield from K.driver_probe_device(drv, dev)
    return ret if ret < 0 else int(ret == 0)


@mirrors("drivers/base/dd.c", v61=968, v612=1075, v72=1032)
def __device_attach_async_helper(dev):
    yield from K.device_lock(dev)
    if not (yield read(dev, "dead")) and (yield read(dev, "driver")) is None:
        data = {"check_async": True, "want_async": True, "have_async": False}
        yield from K.bus_for_each_drv(dev, data)
    yield from K.device_unlock(dev)
    yield from K.put_device(dev)


@mirrors("drivers/base/dd.c", v61=1004, v612=1111, v72=1068)
def __device_attach(dev, allow_async):
    do_async = False
    ret = 0
    yield from K.device_lock(dev)
    if (yield read(dev, "dead")):
        pass
    elif (yield read(dev, "driver")) is not None:
        ret = 1
    else:
        data = {"check_async": allow_async, "want_async": False, "have_async": False}
        ret = yield from K.bus_for_each_drv(dev, data)
        if ret == 0 and allow_async and data["have_async"]:
            yield from K.get_device(dev)
            do_async = True
    yield from K.device_unlock(dev)
    if do_async:
        t = yield spawn(K.__device_attach_async_helper, dev, name=f"async {dev.name}")
        W.async_threads.append(t)
    return ret


@mirrors("drivers/base/bus.c", note="bus_for_each_drv over the loaded PCI drivers, in load order",
         v61=416, v612=445, v72=486)
def bus_for_each_drv(dev, data):
    for drv in (yield read(W.pci_bus_type, "drivers", marked=True)):
        ret = yield from K.__device_attach_driver(drv, dev, data)
        if ret:
            return ret
    return 0


@mirrors("drivers/base/dd.c", v61=1075, v612=1185, v72=1139)
def device_attach(dev):
    return (yield from K.__device_attach(dev, False))


@mirrors("drivers/base/dd.c", note="6.1: the autoprobe check is in bus_probe_device", v61=1081)
def device_initial_probe(dev):
    yield from K.__device_attach(dev, True)


@mirrors("drivers/base/dd.c", note="6.12: checks drivers_autoprobe; retries synchronously if async "
         "scheduling failed (never in the model)", v612=1191)
def device_initial_probe(dev):  # noqa: F811
    if (yield read(W.pci_bus_type, "drivers_autoprobe")):
        yield from K.__device_attach(dev, True)


@mirrors("drivers/base/dd.c", note="7.2: checks drivers_autoprobe", v72=1145)
def device_initial_probe(dev):  # noqa: F811
    if (yield read(W.pci_bus_type, "drivers_autoprobe")):
        yield from K.__device_attach(dev, True)


@mirrors("drivers/base/dd.c", v61=1126, v612=1216, v72=1198)
def device_driver_attach(drv, dev):
    yield from K.device_lock(dev)
    ret = yield from K.__driver_probe_device(drv, dev)
    yield from K.device_unlock(dev)
    if ret > 0:  # a probe error: back to a negative errno
        ret = -ret
    if ret == EPROBE_DEFER:
        return EAGAIN
    return ret


@mirrors("drivers/base/dd.c", v61=1143, v612=1233, v72=1215)
def __driver_attach_async_helper(dev):
    yield from K.device_lock(dev)
    drv = yield read(dev, "async_driver")
    yield write(dev, "async_driver", None)
    yield from K.driver_probe_device(drv, dev)
    yield from K.device_unlock(dev)
    yield from K.put_device(dev)


@mirrors("drivers/base/dd.c", v61=1160, v612=1250, v72=1232)
def __driver_attach(dev, drv):
    if not (yield from K.pci_bus_match(dev, drv)):
        return 0
    if drv.async_probe:
        do_async = False
        yield from K.device_lock(dev)
        # one helper per device: a second driver matching meanwhile does not schedule another
        if (yield read(dev, "driver")) is None and (yield read(dev, "async_driver")) is None:
            yield from K.get_device(dev)
            yield write(dev, "async_driver", drv)
            do_async = True
        yield from K.device_unlock(dev)
        if do_async:
            t = yield spawn(K.__driver_attach_async_helper, dev, name=f"async {dev.name}")
            W.async_threads.append(t)
        return 0
    yield from K.device_lock(dev)
    yield from K.driver_probe_device(drv, dev)
    yield from K.device_unlock(dev)
    return 0


@mirrors("drivers/base/dd.c", v61=1235, v612=1325, v72=1307)
def driver_attach(drv):
    # bus_for_each_dev: klist walk of the bus's devices
    for dev in (yield read(W.pci_bus_type, "klist", marked=True)):
        yield from K.__driver_attach(dev, drv)


@mirrors("drivers/base/dd.c", v61=541, v612=621, v72=610)
def device_remove(dev):
    # device_remove_groups(dev, dev->driver->dev_groups) drains the driver's device attributes under
    # the device lock; no model driver has dev_groups on the PCI device (nvme's are on its ctrl device)
    yield from K.pci_device_remove(dev)  # dev->bus->remove


@mirrors("drivers/base/dd.c", v61=1245, v612=1336, v72=1318)
def __device_release_driver(dev, parent):
    drv = yield read(dev, "driver")
    if drv is None:
        return
    yield from K.device_remove(dev)
    yield from K.device_set_driver(dev, None)  # device_unbind_cleanup
    yield rmw(drv, "devices", lambda t: tuple(d for d in t if d is not dev))  # klist_remove


@mirrors("drivers/base/dd.c", v61=1298, v612=1383, v72=1365)
def device_release_driver_internal(dev, drv, parent):
    yield from K.device_lock(dev)
    cur = yield read(dev, "driver")
    if drv is None or drv is cur:
        yield from K.__device_release_driver(dev, parent)
    yield from K.device_unlock(dev)


@mirrors("drivers/base/dd.c", v61=1321, v612=1406, v72=1388)
def device_release_driver(dev):
    yield from K.device_release_driver_internal(dev, None, None)


@mirrors("drivers/base/dd.c", v61=1339, v612=1424, v72=1406)
def device_driver_detach(dev):
    yield from K.device_release_driver_internal(dev, None, dev.parent)


@mirrors("drivers/base/dd.c", v61=1348, v612=1433, v72=1415)
def driver_detach(drv):
    if drv.async_probe:
        yield from K.async_synchronize_full()
    while True:
        devs = yield read(drv, "devices", marked=True)
        if not devs:
            break
        dev = devs[-1]
        yield from K.get_device(dev)
        yield from K.device_release_driver_internal(dev, drv, dev.parent)
        yield from K.put_device(dev)
