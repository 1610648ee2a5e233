"""drivers/pci/pci.c: device, bus and slot locks and the reset paths.

Also ``reset_method_store`` (drivers/pci/pci.c in v6.1/v6.12, moved to
drivers/pci/pci-sysfs.c in v7.2), ``reset_subordinate_store``
(drivers/pci/pci-sysfs.c) and the reset methods of other files
(``pci_dev_acpi_reset``: pci-acpi.c, ``pci_dev_specific_reset``: quirks.c).

Version differences modelled (lines in each ``@mirrors``):

* ``pci_reset_function``: v6.12/v7.2 lock the upstream bridge first
  (7e89efc6e9e4, absent in v6.1; ``-7e89efc6e9e4``/``+7e89efc6e9e4`` swap the
  two forms: :mod:`pcilock.patches.commit_7e89efc6e9e4`).
* ``__pci_reset_function_locked``, ``pci_reset_function_locked`` and
  ``pci_dev_save_and_disable``: v7.2 ``device_lock_assert``.
* ``pci_reset_bus_function``: v6.12/v7.2 check a CXL port above first (no
  CXL in the model: never taken).
* v7.2 folds ``pci_bus_lock``/``pci_slot_lock`` (and unlock/trylock) into
  ``__pci_bus_lock(bus, slot)``; renames ``__pci_reset_slot`` →
  ``pci_try_reset_slot``, ``__pci_reset_bus`` → ``pci_try_reset_bus``;
  ``pci_bus_error_reset`` becomes ``pci_reset_bridge(bridge, NO_RESTORE)``
  and ``reset_subordinate_store`` calls ``pci_try_reset_bridge`` instead of
  ``__pci_reset_bus``.  The 6.x slot lock/trylock lock the slot's bridge
  first too (the 2026 slot-lock fixes are in all three trees).
* ``pci_bridge_secondary_bus_reset``: v6.12/v7.2 print "unlocked secondary
  bus reset" once when the bridge's config access is not blocked
  (920f6468924f).  That is a ``pci_warn_once`` (a message, not WARN()): the
  model records it as a trace note, not as a ``warn`` violation.

Not modelled, each a lock or wait the model's devices never reach:

* v7.2 brackets every reset method with ``pci_dev_reset_iommu_prepare`` /
  ``pci_dev_reset_iommu_done`` (``pcie_flr`` 4390, ``pci_af_flr`` 4467,
  ``pci_pm_reset`` 4525, ``pci_reset_bus_function`` 4970, probe mode
  included, ``cxl_reset_bus_function`` 5007, pci-acpi.c:969, quirks.c:4256).
  For a device with ATS behind an IOMMU they take and drop the IOMMU
  ``group->mutex`` (drivers/iommu/iommu.c:4034, 4146): a leaf section under
  the reset device's locks.  The model has no IOMMU groups (vfio's
  ``group_lock`` is vfio's own lock); model devices have no ATS.
* v7.2 ``pcie_wait_for_link_delay`` (after a Secondary Bus Reset) calls
  ``pcie_failed_link_retrain`` (pci.c:4677, quirks.c:95) when the link does
  not come up: ``pcie_set_target_speed`` takes ``pci_bus_sem`` for reading
  (bwctrl.c:99), ``pcie_bwctrl_setspeed_rwsem`` for reading and the port's
  ``set_speed_mutex``.  Model links always train.
* ``pci_dev_save_and_disable``'s ``pci_set_power_state(dev, PCI_D0)`` returns
  at once for a device already in D0 (``__pci_set_power_state``); model
  devices are always in D0, so ``pci_set_full_power_state`` →
  ``pcie_aspm_pm_state_change`` (``pci_bus_sem`` read + ``aspm_lock``) is
  never reached.
* Runtime PM: ``reset_store``'s ``pm_runtime_get_sync``/``pm_runtime_put``
  (pci-sysfs.c) and v7.2 ``reset_method_store``'s ``PM_RUNTIME_ACQUIRE``
  only count for a device that is not runtime-suspended, which no model
  device is.

Line numbers.  v6.1 and v7.2: the local 6.1.192 and 7.2.13 trees.  v6.12:
the base is 6.12.117 and the local tree is 6.12.118, whose Debian changelog
lists "PCI: Add enable_device() and disable_device() callbacks for bridges"
and "PCI: Skip Target Speed quirk on clamped ports with no link".  The v6.12
``drivers/pci/pci.c`` lines here are 6.12.117's: checked against the 118
file with that first commit's hunks taken out (``pci_host_bridge_enable/
disable_device``, their calls and the ``err_enable`` label in
``do_pci_enable_device``, the call in ``pci_disable_device``: 34 lines from
line 2093, leaving ``do_pci_enable_device`` identical to 6.1's), which
``tests/kernel/test_pci_citations.py`` redoes when the tree is present.
``include/linux/pci.h``: the same commit adds the two callbacks of
``struct pci_host_bridge`` (2 lines before ``pci_upstream_bridge``).
``drivers/pci/quirks.c``: the second commit adds 4 lines inside
``pcie_failed_link_retrain`` (line 83); ``pci_dev_specific_reset`` at 4266
is the 118 line minus 4, consistent but not reconstructed line by line.

``dev->reset_methods[]`` is a shared field (``reset_method_store`` writes it,
resets read it, neither with a lock) held in :class:`ResetMethods`.  What a
model device supports: the methods its scenario lists (``reset_methods``);
without a list, an endpoint has FLR (and "bus" when the slot or parent-bus
probe succeeds on the booted topology), a bridge has PM reset.  No device
has PCI_DEV_FLAGS_NO_BUS_RESET, is multifunction or sits below a CXL port,
so the ``pci_bus_resettable``/``pci_slot_resettable`` walks (no lock) always
succeed and are not modelled.  Config-space side effects (save/restore,
Command register) take no lock and are not modelled.
"""

from __future__ import annotations

from pcilock._engine_imports import (
    Shared,
    check,
    down_read,
    lock,
    note,
    read,
    schedule_point,
    unlock,
    up_read,
    write,
)
from pcilock.kernel._model import K, W, mirrors

ENOTTY, EAGAIN, EINVAL, EPERM = -25, -11, -22, -1
PCI_RESET_PROBE, PCI_RESET_DO_RESET = True, False
METHOD_NAMES = ("device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus")


class ResetMethods(Shared):
    """``pci_dev->reset_methods[]`` (the method names, in the order tried)."""

    _shared_ = {"methods": ()}

    def __init__(self, dev, **kw):
        super().__init__(**kw)
        self.dev = dev

    def describe(self):
        return f"{self.dev.bdf} reset_methods"


def _caps(dev):
    """The reset capabilities of the model device (see module docstring)."""
    spec = dev.spec
    if spec is not None and spec.reset_methods is not None:
        return tuple(spec.reset_methods)
    if dev.reset_methods:
        return tuple(dev.reset_methods)
    if spec is not None and spec.is_bridge:
        return ("pm",)
    methods = ("flr",)
    bus = dev.bus
    if bus.self is not None:  # not on a root bus: a slot reset or a parent-bus reset may work
        slot = dev.peek("slot")
        alone = len([d for d in W.topology.devices if d.parent == (bus.self.bdf if bus.self else None)]) <= 1
        if (slot is not None and slot.peek("hotplug") is not None) or alone:
            methods += ("bus",)
    return methods


def reset_methods_of(dev):
    rm = getattr(dev, "reset_state", None)
    if rm is None:
        rm = dev.reset_state = ResetMethods(dev, methods=_caps(dev))
    return rm


def _method(name):
    return {
        "device_specific": K.pci_dev_specific_reset, "acpi": K.pci_dev_acpi_reset, "flr": K.pcie_reset_flr,
        "af_flr": K.pci_af_flr, "pm": K.pci_pm_reset, "bus": K.pci_reset_bus_function,
        "cxl_bus": K.__dict__.get("cxl_reset_bus_function"),
    }[name]


# -- reset methods ---------------------------------------------------------------------------------

@mirrors("drivers/pci/pci.c", v61=88, v612=94, v72=97)
def pci_reset_supported(dev):
    return bool((yield read(reset_methods_of(dev), "methods")))


@mirrors("drivers/pci/quirks.c", note="no device-specific reset quirk in the model", v61=4149, v612=4266,
         v72=4272)
def pci_dev_specific_reset(dev, probe):
    return ENOTTY
    yield


@mirrors("drivers/pci/pci-acpi.c", note="no _RST method in the model", v61=938, v612=963, v72=958)
def pci_dev_acpi_reset(dev, probe):
    return ENOTTY
    yield


@mirrors("drivers/pci/pci.c", note="pcie_flr: wait for transactions, initiate FLR, sleep (no lock)",
         v61=4774, v612=4505, v72=4422)
def pcie_reset_flr(dev, probe):
    if "flr" not in _caps(dev):
        return ENOTTY
    if probe:
        return 0
    yield schedule_point("FLR")
    return 0


@mirrors("drivers/pci/pci.c", note="no Advanced Features capability in the model", v61=4789, v612=4520,
         v72=4437)
def pci_af_flr(dev, probe):
    return ENOTTY
    yield


@mirrors("drivers/pci/pci.c", note="D0 -> D3hot -> D0 with sleeps (no lock)", v61=4848, v612=4579, v72=4507)
def pci_pm_reset(dev, probe):
    if "pm" not in _caps(dev):
        return ENOTTY
    if probe:
        return 0
    yield schedule_point("PM reset")
    return 0


@mirrors("drivers/pci/pci.c", note="no CXL port in the model", v612=5024, v72=4986)
def cxl_reset_bus_function(dev, probe):
    return ENOTTY
    yield


@mirrors("include/linux/pci.h", v61=729, v612=774, v72=823)
def pci_upstream_bridge(dev):
    if dev.is_virtfn:
        dev = dev.physfn  # pci_physfn
    if dev.bus.parent is None and dev.bus.self is None:  # pci_is_root_bus
        return None
    return dev.bus.self
    yield


def _pci_is_bridge(dev):
    """pci_is_bridge(): a type 1 (or CardBus) header (model-only: the scenario's device type)."""
    return dev.spec is not None and dev.spec.is_bridge


@mirrors("drivers/pci/pci.c", note="pci_bus_sem read-held while looking at the secondary bus; a reference "
         "on its first device across the sleeps and the readiness poll", v61=4980, v612=4788, v72=4744)
def pci_bridge_wait_for_secondary_bus(dev, reset_type):
    if (yield from K.pci_dev_is_disconnected(dev)):
        return 0
    if not _pci_is_bridge(dev):
        return 0
    yield down_read(W.pci_bus_sem)
    sub = yield read(dev, "subordinate")
    devices = (yield read(sub, "devices")) if sub is not None else ()
    if not devices:
        yield up_read(W.pci_bus_sem)
        return 0
    # pci_bus_max_d3cold_delay(): never 0 (every device's d3cold_delay defaults to 100 ms)
    child = yield from K.get_device(devices[0])  # pci_dev_get(list_first_entry(...)), put at scope exit
    yield up_read(W.pci_bus_sem)
    # msleep(1000 + delay) (conventional PCI), or the link wait (pcie_wait_for_link_delay) and
    # pci_dev_wait(child, ...): polls the child's config space for up to 60 s (no lock)
    yield schedule_point("wait for the secondary bus")
    yield from K.put_device(child)
    return 0


@mirrors("drivers/pci/pci.c", note="assert the Secondary Bus Reset bit, msleep(2), deassert; the hardware "
         "retrains the link (a hotplug port latches a link change)", v61=5062, v612=4888, v72=4844)
def pci_reset_secondary_bus(dev):
    from pcilock.kernel.drivers.pci.hotplug.pciehp import hw_secondary_bus_reset

    yield from hw_secondary_bus_reset(dev)


@mirrors("drivers/pci/pci.c", v61=5092)
def pci_bridge_secondary_bus_reset(dev):
    yield from K.pci_reset_secondary_bus(dev)  # pcibios_reset_secondary_bus
    return (yield from K.pci_bridge_wait_for_secondary_bus(dev, "bus reset"))


@mirrors("drivers/pci/pci.c", note="6.12/7.2: pci_warn_once if the bridge's config access is not blocked "
         "(a message: recorded as a note)", v612=4918, v72=4874)
def pci_bridge_secondary_bus_reset(dev):  # noqa: F811
    if dev.cfg_access.owner is None:  # !dev->block_cfg_access
        yield note(f"pci {dev.bdf}: unlocked secondary bus reset")
    yield from K.pci_reset_secondary_bus(dev)
    return (yield from K.pci_bridge_wait_for_secondary_bus(dev, "bus reset"))


@mirrors("drivers/pci/pci.c", v61=5100, v612=4929, v72=4885)
def pci_parent_bus_reset(dev, probe):
    bus = dev.bus
    if bus.self is None or (yield read(dev, "subordinate")) is not None:
        return ENOTTY
    for pdev in (yield read(bus, "devices")):
        if pdev is not dev:
            return ENOTTY
    if probe:
        return 0
    return (yield from K.pci_bridge_secondary_bus_reset(bus.self))


@mirrors("drivers/pci/pci.c", note="hotplug->owner (try_module_get) and hotplug->ops read without a lock",
         v61=5118, v612=4947, v72=4903)
def pci_reset_hotplug_slot(hotplug, probe):
    rc = ENOTTY
    # hotplug->owner, hotplug->ops: plain attributes of struct hotplug_slot in the model (pci_hotplug.h
    # has no shared field for them), so a hotplug_slot freed by pciehp's unbind is reported at its
    # controller's reset_lock in pciehp_reset_slot, not here
    if hotplug is None or not (yield from K.try_module_get(hotplug.owner)):
        return rc
    if hotplug.ops.get("reset_slot"):
        rc = yield from getattr(K, hotplug.ops["reset_slot"])(hotplug, probe)
    yield from K.module_put(hotplug.owner)
    return rc


@mirrors("drivers/pci/pci.c", note="dev->slot loaded for the NULL check and again for ->hotplug, without a "
         "lock (a NULL the second time is a NULL-pointer dereference)", v61=5133, v612=4962, v72=4918)
def pci_dev_reset_slot_function(dev, probe):
    if (yield read(dev, "subordinate")) is not None:
        return ENOTTY
    if (yield read(dev, "slot")) is None:
        return ENOTTY
    # dev_flags & PCI_DEV_FLAGS_NO_BUS_RESET, dev->multifunction: never set in the model
    slot = yield read(dev, "slot")
    if slot is None:
        yield check(False, f"BUG: NULL pointer dereference: {dev.bdf} dev->slot->hotplug "
                    "(pci_dev_reset_slot_function)", kind="uaf", fatal=True)
        return ENOTTY
    hotplug = yield read(slot, "hotplug")
    return (yield from K.pci_reset_hotplug_slot(hotplug, probe))


@mirrors("drivers/pci/pci.c", v61=5143)
def pci_reset_bus_function(dev, probe):
    rc = yield from K.pci_dev_reset_slot_function(dev, probe)
    if rc != ENOTTY:
        return rc
    return (yield from K.pci_parent_bus_reset(dev, probe))


@mirrors("drivers/pci/pci.c", note="6.12: CXL SBR-masked check first (no CXL: not taken)", v612=5002)
def pci_reset_bus_function(dev, probe):  # noqa: F811
    rc = yield from K.pci_dev_reset_slot_function(dev, probe)
    if rc != ENOTTY:
        return rc
    return (yield from K.pci_parent_bus_reset(dev, probe))


@mirrors("drivers/pci/pci.c", note="7.2: CXL check; pci_dev_reset_iommu_prepare/done around the reset "
         "(no lock without ATS)", v72=4958)
def pci_reset_bus_function(dev, probe):  # noqa: F811
    rc = yield from K.pci_dev_reset_slot_function(dev, probe)
    if rc == ENOTTY:
        rc = yield from K.pci_parent_bus_reset(dev, probe)
    return rc


# -- device locks ------------------------------------------------------------------------------------

@mirrors("drivers/pci/pci.c", v61=5153, v612=5062, v72=5031)
def pci_dev_lock(dev):
    yield from K.device_lock(dev)
    yield from K.pci_cfg_access_lock(dev)


@mirrors("drivers/pci/pci.c", v61=5162, v612=5071, v72=5040)
def pci_dev_trylock(dev):
    if (yield from K.device_trylock(dev)):
        if (yield from K.pci_cfg_access_trylock(dev)):
            return True
        yield from K.device_unlock(dev)
    return False


@mirrors("drivers/pci/pci.c", v61=5174, v612=5083, v72=5052)
def pci_dev_unlock(dev):
    yield from K.pci_cfg_access_unlock(dev)
    yield from K.device_unlock(dev)


def _reset_cb(pdrv, name):
    """``pdrv->err_handler->name`` or None (model-only accessor, as err.c's)."""
    eh = getattr(pdrv, "err_handler", None) if pdrv is not None else None
    return eh.get(name) if eh else None


@mirrors("drivers/pci/pci.c", note="6.x: err_handler->reset_prepare under the caller's device lock",
         v61=5181, v612=5090)
def pci_dev_save_and_disable(dev):
    pdrv = yield read(dev, "pci_driver")
    cb = _reset_cb(pdrv, "reset_prepare")
    if cb is not None:
        yield from cb(dev)
    # elided: pci_set_power_state(dev, PCI_D0): a no-op for a device in D0, which every model device is
    # elided: pci_save_state(), Command register write: config accesses, no lock


@mirrors("drivers/pci/pci.c", note="7.2: device_lock_assert; pci_warn \"resetting\" when the bound driver "
         "has no reset_prepare", v72=5059)
def pci_dev_save_and_disable(dev):  # noqa: F811
    pdrv = yield read(dev, "pci_driver")
    yield from K.device_lock_assert(dev)
    cb = _reset_cb(pdrv, "reset_prepare")
    if cb is not None:
        yield from cb(dev)
    elif pdrv is not None:
        yield note(f"pci {dev.bdf}: resetting")
    # elided: pci_set_power_state(dev, PCI_D0), pci_save_state(), Command register write (see 6.x)


@mirrors("drivers/pci/pci.c", note="6.x: err_handler->reset_done", v61=5212, v612=5124)
def pci_dev_restore(dev):
    pdrv = yield read(dev, "pci_driver")
    # elided: pci_restore_state(): config accesses, no lock
    cb = _reset_cb(pdrv, "reset_done")
    if cb is not None:
        yield from cb(dev)


@mirrors("drivers/pci/pci.c", note="7.2: pci_warn \"reset done\" when the bound driver has no reset_done",
         v72=5093)
def pci_dev_restore(dev):  # noqa: F811
    pdrv = yield read(dev, "pci_driver")
    # elided: pci_restore_state(): config accesses, no lock
    cb = _reset_cb(pdrv, "reset_done")
    if cb is not None:
        yield from cb(dev)
    elif pdrv is not None:
        yield note(f"pci {dev.bdf}: reset done")


def _reset_methods_loop(dev):
    for m in (yield read(reset_methods_of(dev), "methods")):
        fn = _method(m)
        if fn is None:
            continue
        rc = yield from fn(dev, PCI_RESET_DO_RESET)
        if not rc:
            return 0
        if rc != ENOTTY:
            return rc
    return ENOTTY


@mirrors("drivers/pci/pci.c", v61=5382, v612=5295)
def __pci_reset_function_locked(dev):
    return (yield from _reset_methods_loop(dev))


@mirrors("drivers/pci/pci.c", note="7.2: device_lock_assert", v72=5145)
def __pci_reset_function_locked(dev):  # noqa: F811
    yield from K.device_lock_assert(dev)
    return (yield from _reset_methods_loop(dev))


@mirrors("drivers/pci/pci.c", note="6.1: only the device is locked", v61=5460)
def pci_reset_function(dev):
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    yield from K.pci_dev_lock(dev)
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    yield from K.pci_dev_unlock(dev)
    return rc


@mirrors("drivers/pci/pci.c", note="6.12/7.2: the upstream bridge is locked first (7e89efc6e9e4)",
         v612=5373, v72=5229)
def pci_reset_function(dev):  # noqa: F811
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    bridge = yield from K.pci_upstream_bridge(dev)
    if bridge is not None:
        yield from K.pci_dev_lock(bridge)
    yield from K.pci_dev_lock(dev)
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    yield from K.pci_dev_unlock(dev)
    if bridge is not None:
        yield from K.pci_dev_unlock(bridge)
    return rc


@mirrors("drivers/pci/pci.c", v61=5496, v612=5421)
def pci_reset_function_locked(dev):
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    return rc


@mirrors("drivers/pci/pci.c", note="7.2: device_lock_assert", v72=5279)
def pci_reset_function_locked(dev):  # noqa: F811
    yield from K.device_lock_assert(dev)
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    return rc


@mirrors("drivers/pci/pci.c", note="only the device is trylocked (no bridge lock in any base)",
         v61=5519, v612=5444, v72=5304)
def pci_try_reset_function(dev):
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    if not (yield from K.pci_dev_trylock(dev)):
        return EAGAIN
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    yield from K.pci_dev_unlock(dev)
    return rc


# -- bus and slot locks: v6.1 / v6.12 ------------------------------------------------------------------

def _in_slot(dev, slot):
    s = yield read(dev, "slot")
    return s is not None and s is slot


@mirrors("drivers/pci/pci.c", v61=5557, v612=5482)
def pci_bus_lock(bus):
    yield from K.pci_dev_lock(bus.self)
    for dev in (yield read(bus, "devices")):
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_lock(sub)
        else:
            yield from K.pci_dev_lock(dev)


@mirrors("drivers/pci/pci.c", v61=5571, v612=5496)
def pci_bus_unlock(bus):
    for dev in (yield read(bus, "devices")):
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_unlock(sub)
        else:
            yield from K.pci_dev_unlock(dev)
    yield from K.pci_dev_unlock(bus.self)


def _unlock_reverse(devices, failed, slot=None):
    # unlock: list_for_each_entry_continue_reverse from the entry before the failed one, re-reading
    # dev->slot (slot trylocks) and dev->subordinate as the C does
    for dev in reversed(devices[:failed]):
        if slot is not None and not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_unlock(sub)
        else:
            yield from K.pci_dev_unlock(dev)


@mirrors("drivers/pci/pci.c", v61=5585, v612=5510)
def pci_bus_trylock(bus):
    if not (yield from K.pci_dev_trylock(bus.self)):
        return False
    devices = yield read(bus, "devices")
    for i, dev in enumerate(devices):
        sub = yield read(dev, "subordinate")
        ok = (yield from K.pci_bus_trylock(sub)) if sub is not None else (yield from K.pci_dev_trylock(dev))
        if not ok:
            yield from _unlock_reverse(devices, i)
            yield from K.pci_dev_unlock(bus.self)
            return False
    return True


@mirrors("drivers/pci/pci.c", note="the slot's bridge first", v61=5632, v612=5557)
def pci_slot_lock(slot):
    bridge = slot.bus.self
    if bridge is not None:
        yield from K.pci_dev_lock(bridge)
    for dev in (yield read(slot.bus, "devices")):
        if not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_lock(sub)
        else:
            yield from K.pci_dev_lock(dev)


@mirrors("drivers/pci/pci.c", v61=5650, v612=5575)
def pci_slot_unlock(slot):
    bridge = slot.bus.self
    for dev in (yield read(slot.bus, "devices")):
        if not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_unlock(sub)
        else:
            yield from K.pci_dev_unlock(dev)
    if bridge is not None:
        yield from K.pci_dev_unlock(bridge)


@mirrors("drivers/pci/pci.c", v61=5668, v612=5593)
def pci_slot_trylock(slot):
    bridge = slot.bus.self
    if bridge is not None and not (yield from K.pci_dev_trylock(bridge)):
        return False
    devices = yield read(slot.bus, "devices")
    for i, dev in enumerate(devices):
        if not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        ok = (yield from K.pci_bus_trylock(sub)) if sub is not None else (yield from K.pci_dev_trylock(dev))
        if not ok:
            yield from _unlock_reverse(devices, i, slot)
            if bridge is not None:
                yield from K.pci_dev_unlock(bridge)
            return False
    return True


# -- bus and slot locks: v7.2 -----------------------------------------------------------------------

@mirrors("drivers/pci/pci.c", v72=5346)
def __pci_bus_lock(bus, slot):
    bridge = bus.self
    if bridge is not None:
        yield from K.pci_dev_lock(bridge)
    for dev in (yield read(bus, "devices")):
        if slot is not None and not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_lock(sub)
        else:
            yield from K.pci_dev_lock(dev)


@mirrors("drivers/pci/pci.c", v72=5364)
def __pci_bus_unlock(bus, slot):
    bridge = bus.self
    for dev in (yield read(bus, "devices")):
        if slot is not None and not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_unlock(sub)
        else:
            yield from K.pci_dev_unlock(dev)
    if bridge is not None:
        yield from K.pci_dev_unlock(bridge)


@mirrors("drivers/pci/pci.c", v72=5382)
def __pci_bus_trylock(bus, slot):
    bridge = bus.self
    if bridge is not None and not (yield from K.pci_dev_trylock(bridge)):
        return False
    devices = yield read(bus, "devices")
    for i, dev in enumerate(devices):
        if slot is not None and not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        ok = (yield from K.pci_bus_trylock(sub)) if sub is not None else (yield from K.pci_dev_trylock(dev))
        if not ok:
            yield from _unlock_reverse(devices, i, slot)
            if bridge is not None:
                yield from K.pci_dev_unlock(bridge)
            return False
    return True


@mirrors("drivers/pci/pci.c", v72=5416)
def pci_bus_lock(bus):  # noqa: F811
    yield from K.__pci_bus_lock(bus, None)


@mirrors("drivers/pci/pci.c", v72=5422)
def pci_bus_unlock(bus):  # noqa: F811
    yield from K.__pci_bus_unlock(bus, None)


@mirrors("drivers/pci/pci.c", v72=5428)
def pci_bus_trylock(bus):  # noqa: F811
    return (yield from K.__pci_bus_trylock(bus, None))


@mirrors("drivers/pci/pci.c", v72=5453)
def pci_slot_lock(slot):  # noqa: F811
    yield from K.__pci_bus_lock(slot.bus, slot)


@mirrors("drivers/pci/pci.c", v72=5459)
def pci_slot_unlock(slot):  # noqa: F811
    yield from K.__pci_bus_unlock(slot.bus, slot)


@mirrors("drivers/pci/pci.c", v72=5465)
def pci_slot_trylock(slot):  # noqa: F811
    return (yield from K.__pci_bus_trylock(slot.bus, slot))


# -- save/restore of a locked bus or slot ------------------------------------------------------------

@mirrors("drivers/pci/pci.c", v61=5706, v612=5631, v72=5474)
def pci_bus_save_and_disable_locked(bus):
    for dev in (yield read(bus, "devices")):
        yield from K.pci_dev_save_and_disable(dev)
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_save_and_disable_locked(sub)


@mirrors("drivers/pci/pci.c", v61=5722, v612=5647, v72=5490)
def pci_bus_restore_locked(bus):
    for dev in (yield read(bus, "devices")):
        yield from K.pci_dev_restore(dev)
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bridge_wait_for_secondary_bus(dev, "bus reset")
            yield from K.pci_bus_restore_locked(sub)


@mirrors("drivers/pci/pci.c", v61=5739, v612=5664, v72=5507)
def pci_slot_save_and_disable_locked(slot):
    for dev in (yield read(slot.bus, "devices")):
        if not (yield from _in_slot(dev, slot)):
            continue
        yield from K.pci_dev_save_and_disable(dev)
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_save_and_disable_locked(sub)


@mirrors("drivers/pci/pci.c", v61=5757, v612=5682, v72=5525)
def pci_slot_restore_locked(slot):
    for dev in (yield read(slot.bus, "devices")):
        if not (yield from _in_slot(dev, slot)):
            continue
        yield from K.pci_dev_restore(dev)
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bridge_wait_for_secondary_bus(dev, "slot reset")
            yield from K.pci_bus_restore_locked(sub)


# -- slot and bus resets -------------------------------------------------------------------------------

@mirrors("drivers/pci/pci.c", note="pci_slot_resettable: always true in the model", v61=5772, v612=5697,
         v72=5540)
def pci_slot_reset(slot, probe):
    if slot is None:
        return ENOTTY
    if not probe:
        yield from K.pci_slot_lock(slot)
    hotplug = yield read(slot, "hotplug")
    rc = yield from K.pci_reset_hotplug_slot(hotplug, probe)
    if not probe:
        yield from K.pci_slot_unlock(slot)
    return rc


@mirrors("drivers/pci/pci.c", v61=5798, v612=5723, v72=5566)
def pci_probe_reset_slot(slot):
    return (yield from K.pci_slot_reset(slot, PCI_RESET_PROBE))


def _try_reset_slot(slot):
    rc = yield from K.pci_slot_reset(slot, PCI_RESET_PROBE)
    if rc:
        return rc
    if (yield from K.pci_slot_trylock(slot)):
        yield from K.pci_slot_save_and_disable_locked(slot)
        hotplug = yield read(slot, "hotplug")
        rc = yield from K.pci_reset_hotplug_slot(hotplug, PCI_RESET_DO_RESET)
        yield from K.pci_slot_restore_locked(slot)
        yield from K.pci_slot_unlock(slot)
    else:
        rc = EAGAIN
    return rc


@mirrors("drivers/pci/pci.c", v61=5819, v612=5744)
def __pci_reset_slot(slot):
    return (yield from _try_reset_slot(slot))


@mirrors("drivers/pci/pci.c", note="7.2 name of __pci_reset_slot", v72=5587)
def pci_try_reset_slot(slot):
    return (yield from _try_reset_slot(slot))


@mirrors("drivers/pci/pci.c", note="pci_bus_resettable: always true in the model", v61=5839, v612=5764,
         v72=5607)
def pci_bus_reset(bus, probe):
    if bus.self is None:
        return ENOTTY
    if probe:
        return 0
    yield from K.pci_bus_lock(bus)
    ret = yield from K.pci_bridge_secondary_bus_reset(bus.self)
    yield from K.pci_bus_unlock(bus)
    return ret


@mirrors("drivers/pci/pci.c", v61=5901, v612=5826, v72=5723)
def pci_probe_reset_bus(bus):
    return (yield from K.pci_bus_reset(bus, PCI_RESET_PROBE))


def _try_reset_bus(bus):
    rc = yield from K.pci_bus_reset(bus, PCI_RESET_PROBE)
    if rc:
        return rc
    if (yield from K.pci_bus_trylock(bus)):
        yield from K.pci_bus_save_and_disable_locked(bus)
        rc = yield from K.pci_bridge_secondary_bus_reset(bus.self)
        yield from K.pci_bus_restore_locked(bus)
        yield from K.pci_bus_unlock(bus)
    else:
        rc = EAGAIN
    return rc


@mirrors("drivers/pci/pci.c", v61=5913, v612=5838)
def __pci_reset_bus(bus):
    return (yield from _try_reset_bus(bus))


@mirrors("drivers/pci/pci.c", note="7.2 name of __pci_reset_bus", v72=5634)
def pci_try_reset_bus(bus):
    return (yield from _try_reset_bus(bus))


def _slots_of(bus):
    return [s for s in W.slots.values() if s.bus is bus]


@mirrors("drivers/pci/pci.c", note="AER/DPC reset of a bridge's secondary bus: pci_slot_mutex, blocking "
         "slot resets, else a blocking bus reset", v61=5868, v612=5793)
def pci_bus_error_reset(bridge):
    bus = yield read(bridge, "subordinate")
    if bus is None:
        return ENOTTY
    yield lock(W.pci_slot_mutex)
    slots = _slots_of(bus)
    bus_reset = not slots
    if not bus_reset:
        for slot in slots:
            if (yield from K.pci_probe_reset_slot(slot)):
                bus_reset = True
                break
    if not bus_reset:
        for slot in slots:
            if (yield from K.pci_slot_reset(slot, PCI_RESET_DO_RESET)):
                bus_reset = True
                break
    yield unlock(W.pci_slot_mutex)
    if not bus_reset:
        return 0
    return (yield from K.pci_bus_reset(bus, PCI_RESET_DO_RESET))


@mirrors("drivers/pci/pci.c", v72=5666)
def pci_reset_bridge(bridge, restore):
    bus = yield read(bridge, "subordinate")
    if bus is None:
        return ENOTTY
    ret = 0
    yield lock(W.pci_slot_mutex)
    slots = _slots_of(bus)
    bus_reset = not slots
    if not bus_reset:
        for slot in slots:
            if (yield from K.pci_probe_reset_slot(slot)):
                bus_reset = True
                break
    if not bus_reset:
        for slot in slots:
            if restore:
                ret = yield from K.pci_try_reset_slot(slot)
            else:
                ret = yield from K.pci_slot_reset(slot, PCI_RESET_DO_RESET)
            if ret:
                break
        yield unlock(W.pci_slot_mutex)
        return ret
    yield unlock(W.pci_slot_mutex)
    if restore:
        return (yield from K.pci_try_reset_bus(bus))
    return (yield from K.pci_bus_reset(bus, PCI_RESET_DO_RESET))


@mirrors("drivers/pci/pci.c", v72=5707)
def pci_bus_error_reset(bridge):  # noqa: F811
    return (yield from K.pci_reset_bridge(bridge, False))


@mirrors("drivers/pci/pci.c", v72=5712)
def pci_try_reset_bridge(bridge):
    return (yield from K.pci_reset_bridge(bridge, True))


@mirrors("drivers/pci/pci.c", note="slot reset if the slot probes, else bus reset (both trylock); "
         "pdev->slot loaded twice (probe, then reset)", v61=5939, v612=5864)
def pci_reset_bus(pdev):
    if not (yield from K.pci_probe_reset_slot((yield read(pdev, "slot")))):
        return (yield from K.__pci_reset_slot((yield read(pdev, "slot"))))
    return (yield from K.__pci_reset_bus(pdev.bus))


@mirrors("drivers/pci/pci.c", note="pdev->slot loaded twice (probe, then reset)", v72=5735)
def pci_reset_bus(pdev):  # noqa: F811
    if not (yield from K.pci_probe_reset_slot((yield read(pdev, "slot")))):
        return (yield from K.pci_try_reset_slot((yield read(pdev, "slot"))))
    return (yield from K.pci_try_reset_bus(pdev.bus))


# -- sysfs: reset_method, reset_subordinate ------------------------------------------------------------

@mirrors("drivers/pci/pci.c", note="probe every method in table order; stop at the first error other "
         "than -ENOTTY", v61=5424, v612=5337, v72=5193)
def pci_init_reset_methods(dev):
    methods = []
    for m in METHOD_NAMES:
        fn = _method(m)
        if fn is None:  # no such method in this version (cxl_bus: 6.12+)
            continue
        rc = yield from fn(dev, PCI_RESET_PROBE)
        if not rc:
            methods.append(m)
        elif rc != ENOTTY:
            break
    yield write(reset_methods_of(dev), "methods", tuple(methods))


def _reset_method_store(pdev, buf, pm_acquire):
    rm = reset_methods_of(pdev)
    text = buf.strip()  # sysfs_streq ignores a trailing newline
    if text == "":
        yield write(rm, "methods", ())
        yield note(f"pci {pdev.bdf}: All device reset methods disabled by user")
        return len(buf)
    if pm_acquire:
        pass  # 7.2 PM_RUNTIME_ACQUIRE(dev): model devices are never runtime-suspended (a usage count only)
    if text == "default":
        yield from K.pci_init_reset_methods(pdev)
        return len(buf)
    methods = []
    for name in text.split():
        fn = _method(name) if name in METHOD_NAMES else None  # reset_method_lookup
        if fn is None or (yield from fn(pdev, PCI_RESET_PROBE)):
            return EINVAL
        if len(methods) == len(METHOD_NAMES):  # n == PCI_NUM_RESET_METHODS - 1: too many
            return EINVAL
        methods.append(name)
    # the device-specific method probed again for a warning (no lock)
    yield write(rm, "methods", tuple(methods))
    return len(buf)


@mirrors("drivers/pci/pci.c", note="the probe calls take no lock (pciehp_reset_slot returns 0 in probe mode)",
         v61=5273, v612=5186)
def reset_method_store(pdev, buf):
    return (yield from _reset_method_store(pdev, buf, False))


@mirrors("drivers/pci/pci-sysfs.c", note="7.2: moved to pci-sysfs.c; runtime-PM reference after the "
         "empty-string case", v72=1642)
def reset_method_store(pdev, buf):  # noqa: F811
    return (yield from _reset_method_store(pdev, buf, True))


def _ulong(buf):
    try:
        return int(buf.strip(), 0)
    except ValueError:
        return None


@mirrors("drivers/pci/pci-sysfs.c", note="6.x: __pci_reset_bus(pdev->subordinate)", v61=544, v612=542)
def reset_subordinate_store(pdev, buf):
    val = _ulong(buf)
    if val is None:
        return EINVAL
    if val:
        bus = yield read(pdev, "subordinate")
        ret = yield from K.__pci_reset_bus(bus)
        if ret:
            return ret
    return len(buf)


@mirrors("drivers/pci/pci-sysfs.c", note="7.2: pci_try_reset_bridge(pdev)", v72=552)
def reset_subordinate_store(pdev, buf):  # noqa: F811
    val = _ulong(buf)
    if val is None:
        return EINVAL
    if val:
        ret = yield from K.pci_try_reset_bridge(pdev)
        if ret:
            return ret
    return len(buf)
