"""drivers/vfio/vfio_main.c (and drivers/vfio/group.c of v6.12/v7.2): vfio devices, their
registration reference, open and close through the group path, unregistration.

Structures (as far as the model needs them): ``struct vfio_group`` with
``group_lock`` and ``device_lock`` (one group per device: each model device
is alone in its IOMMU group), ``struct vfio_device_set`` with ``lock`` and
its device list, ``struct vfio_device`` with ``refcount`` (the registration
reference), ``open_count`` and ``comp``.

Per version (notes §6):

* v6.1: open = ``vfio_device_get_from_name`` (``group->device_lock``,
  ``vfio_device_try_get_registration``) + ``vfio_device_open``: L(group_lock)
  to assign the container, then L(dev_set->lock) → first open:
  L(group_lock) → ``open_device``.  Close = ``vfio_device_fops_release``:
  L(dev_set->lock) → L(group_lock) → last close: ``close_device`` → U → U,
  then ``vfio_device_unassign_container`` (L(group_lock)) and
  ``vfio_device_put_registration``.  The unregistration waits for the
  users *before* taking the device off the group list: a new open can still
  get a registration while ``.remove`` waits.
* v6.12/v7.2: open = ``vfio_device_get_from_name`` + ``vfio_df_group_open``:
  L(group_lock) → L(dev_set->lock) → ``vfio_df_open`` → first open →
  ``open_device``; close = ``vfio_df_group_close``: L(group_lock) →
  L(dev_set->lock) → ``vfio_df_close`` → last close → ``close_device``; then
  the registration put.  Unregistration first takes the device off the group
  list (``vfio_device_group_unregister``), so new opens fail, then waits.

The wait of ``vfio_unregister_group_dev`` (``wait_for_completion*_timeout``
in a loop that never gives up) is one ``wait_for_completion(device->comp)``
whose providers are the userspace tasks holding a file of the device: the
remover waits *for them*; if they exit without closing, it is a hang.
``ops->request`` is called before the wait and again after a timed wait
that did not see the completion (twice in the model; v6.1 takes
``vdev->igate`` each time).
The first open takes a reference on the driver's module (v6.1: every open;
put at the last close / at each release), so ``modprobe -r vfio-pci`` fails
while a file is open.  The cdev/iommufd path, KVM and containers are not
modelled (no lock of the PCI core).
"""

from __future__ import annotations

from pcilock._engine_imports import (
    Completion,
    Mutex,
    Shared,
    complete,
    lock,
    read,
    rmw,
    try_wait_for_completion,
    unlock,
    wait_for_completion,
    write,
)
from pcilock.kernel._model import K, W, mirrors

ENODEV, EINVAL = -19, -22


class VfioGroup:
    def __init__(self, name):
        self.name = name
        self.group_lock = Mutex(f"&group->group_lock {name}", "&group->group_lock")
        self.device_lock = Mutex(f"&group->device_lock {name}", "&group->device_lock")
        self.device_list = DeviceList(name)


class DeviceList(Shared):
    """``group->device_list`` (under ``group->device_lock``)."""

    _shared_ = {"devices": ()}

    def __init__(self, name, **kw):
        super().__init__(**kw)
        self.name = name

    def describe(self):
        return f"group->device_list {self.name}"


class VfioDeviceSet(Shared):
    """``struct vfio_device_set``: devices reset together (a slot or a bus)."""

    _shared_ = {"device_list": ()}

    def __init__(self, set_id, **kw):
        super().__init__(**kw)
        # a slot or bus ("slot 1", "bus 0000:01"), or the vfio_pci_core_device of a set of its own
        self.set_id = set_id if isinstance(set_id, str) else f"vdev {set_id.pdev.bdf}"
        self.lock = Mutex(f"&dev_set->lock {self.set_id}", "&new_dev_set->lock")

    def describe(self):
        return f"vfio_device_set {self.set_id}"


class VfioDevice(Shared):
    """``struct vfio_device`` (embedded in ``struct vfio_pci_core_device``)."""

    _shared_ = {"refcount": 1, "open_count": 0}

    def __init__(self, pdev, **kw):
        super().__init__(**kw)
        self.pdev = pdev
        self.name = pdev.bdf
        self.group = VfioGroup(pdev.bdf)
        self.dev_set = None
        self.comp = Completion(f"&device->comp {pdev.bdf}")  # providers: tasks holding a file
        self.ops = {"open_device": "vfio_pci_open_device", "close_device": "vfio_pci_core_close_device",
                    "request": "vfio_pci_core_request"}
        self.core = None  # the vfio_pci_core_device
        self.file_holders = []  # userspace tasks holding a file of the device (one entry per file)
        # device->dev->driver->owner: the vfio-pci module for the whole life of the vfio device.  The
        # kernel loads dev->driver at each try_module_get/module_put; the model does not: in v6.1 the
        # release's load comes after dev_set->lock is dropped and is ordered before an unbind's
        # dev->driver = NULL only by the registration refcount (refcount_dec_and_test: release, and
        # acquire on zero), an ordering the engine's rmw does not carry (it would be a false race).
        self.owner = None

    def describe(self):
        return f"vfio_device {self.name}"


def note_file(task, device, add):
    """Book-keeping of the userspace tasks holding a file of *device*: the providers of
    ``device->comp`` (each task only changes its own entry)."""
    holders = device.file_holders
    if add:
        holders.append(task)
    else:
        holders.remove(task)
    providers = []
    for t in holders:
        if t not in providers:
            providers.append(t)
    device.comp.providers = providers


# -- device sets ---------------------------------------------------------------------------------

@mirrors("drivers/vfio/vfio_main.c", note="the dev_set of a slot, bus or device (xarray lookup), then "
         "L(dev_set->lock){list_add}", v61=57, v612=66, v72=76)
def vfio_assign_device_set(device, set_id):
    sets = W.__dict__.setdefault("vfio_device_sets", {})
    dev_set = sets.get(set_id)
    if dev_set is None:
        dev_set = sets[set_id] = VfioDeviceSet(set_id)
    yield lock(dev_set.lock)
    device.dev_set = dev_set
    yield rmw(dev_set, "device_list", lambda t: t + (device,))
    yield unlock(dev_set.lock)
    return 0


@mirrors("drivers/vfio/vfio_main.c", v61=107, v612=116, v72=126)
def vfio_release_device_set(device):
    dev_set = device.dev_set
    if dev_set is None:
        return
    yield lock(dev_set.lock)
    yield rmw(dev_set, "device_list", lambda t: tuple(d for d in t if d is not device))
    yield unlock(dev_set.lock)


@mirrors("drivers/vfio/vfio_main.c", v61=128, v612=137, v72=147)
def vfio_device_set_open_count(dev_set):
    n = 0
    for cur in (yield read(dev_set, "device_list")):
        n += yield read(cur, "open_count")
    return n


# -- registration reference ------------------------------------------------------------------------

@mirrors("drivers/vfio/vfio_main.c", v61=315, v612=169, v72=179)
def vfio_device_put_registration(device):
    old = yield rmw(device, "refcount", lambda v: v - 1)
    if old == 1:
        yield complete(device.comp)


@mirrors("drivers/vfio/vfio_main.c", v61=321, v612=175, v72=186)
def vfio_device_try_get_registration(device):
    old = yield rmw(device, "refcount", lambda v: v + 1 if v else v)
    return old != 0


def _get_from_name(group, name):
    device = None
    yield lock(group.device_lock)
    for it in (yield read(group.device_list, "devices")):
        if it.name == name and (yield from K.vfio_device_try_get_registration(it)):
            device = it
            break
    yield unlock(group.device_lock)
    return device


@mirrors("drivers/vfio/vfio_main.c", note="6.1: in vfio_main.c", v61=602)
def vfio_device_get_from_name(group, name):
    return (yield from _get_from_name(group, name))


@mirrors("drivers/vfio/group.c", v612=26, v72=31)
def vfio_device_get_from_name(group, name):  # noqa: F811
    return (yield from _get_from_name(group, name))


# -- v6.1 open / close --------------------------------------------------------------------------------

@mirrors("drivers/vfio/vfio_main.c", note="6.1: container assignment under group_lock, then dev_set->lock "
         "-> group_lock -> open_device", v61=750)
def vfio_device_open(device):
    yield lock(device.group.group_lock)  # vfio_device_assign_container
    yield unlock(device.group.group_lock)
    owner = device.owner  # device->dev->driver->owner (see VfioDevice.owner)
    if not (yield from K.try_module_get(owner)):
        yield from K.vfio_device_unassign_container(device)
        return ENODEV
    yield lock(device.dev_set.lock)
    n = (yield rmw(device, "open_count", lambda v: v + 1)) + 1
    ret = 0
    if n == 1:
        yield lock(device.group.group_lock)
        ret = yield from getattr(K, device.ops["open_device"])(device)
        if ret:
            yield unlock(device.group.group_lock)
            yield rmw(device, "open_count", lambda v: v - 1)
            yield unlock(device.dev_set.lock)
            yield from K.module_put(owner)
            yield from K.vfio_device_unassign_container(device)
            return ret
        yield unlock(device.group.group_lock)
    yield unlock(device.dev_set.lock)
    return 0


@mirrors("drivers/vfio/vfio_main.c", note="6.1: dev_set->lock -> group_lock -> close_device; then the "
         "registration put", v61=1027)
def vfio_device_fops_release(device):
    yield lock(device.dev_set.lock)
    yield lock(device.group.group_lock)
    if (yield read(device, "open_count")) == 1:
        yield from getattr(K, device.ops["close_device"])(device)
    yield unlock(device.group.group_lock)
    yield rmw(device, "open_count", lambda v: v - 1)
    yield unlock(device.dev_set.lock)
    yield from K.module_put(device.owner)
    yield from K.vfio_device_unassign_container(device)
    yield from K.vfio_device_put_registration(device)
    return 0


@mirrors("drivers/vfio/container.c", note="6.1: group_lock around container_users-- and fput of the group "
         "file", v61=532)
def vfio_device_unassign_container(device):
    yield lock(device.group.group_lock)
    yield unlock(device.group.group_lock)


@mirrors("drivers/vfio/vfio_main.c", note="6.1: VFIO_GROUP_GET_DEVICE_FD", v61=835)
def vfio_group_ioctl_get_device_fd(group, name):
    device = yield from K.vfio_device_get_from_name(group, name)
    if device is None:
        return None, ENODEV
    ret = yield from K.vfio_device_open(device)
    if ret:
        yield from K.vfio_device_put_registration(device)
        return None, ret
    return device, 0


# -- v6.12 / v7.2 open / close ---------------------------------------------------------------------

@mirrors("drivers/vfio/vfio_main.c", note="lockdep_assert_held(dev_set->lock); open_device", v612=511,
         v72=523)
def vfio_df_device_first_open(device):
    owner = device.owner  # device->dev->driver->owner (see VfioDevice.owner)
    if not (yield from K.try_module_get(owner)):
        return ENODEV
    # vfio_device_group_use_iommu (group iommu, no PCI lock)
    ret = yield from getattr(K, device.ops["open_device"])(device)
    if ret:
        yield from K.module_put(owner)
    return ret


@mirrors("drivers/vfio/vfio_main.c", v612=546, v72=558)
def vfio_df_device_last_close(device):
    yield from getattr(K, device.ops["close_device"])(device)
    # vfio_device_group_unuse_iommu
    yield from K.module_put(device.owner)


@mirrors("drivers/vfio/vfio_main.c", v612=562, v72=575)
def vfio_df_open(device):
    n = (yield rmw(device, "open_count", lambda v: v + 1)) + 1
    ret = 0
    if n == 1:
        ret = yield from K.vfio_df_device_first_open(device)
        if ret:
            yield rmw(device, "open_count", lambda v: v - 1)
    return ret


@mirrors("drivers/vfio/vfio_main.c", v612=586, v72=599)
def vfio_df_close(device):
    if (yield read(device, "open_count")) == 1:
        yield from K.vfio_df_device_last_close(device)
    yield rmw(device, "open_count", lambda v: v - 1)


@mirrors("drivers/vfio/group.c", note="group_lock -> dev_set->lock -> vfio_df_open", v612=167, v72=170)
def vfio_df_group_open(device):
    yield lock(device.group.group_lock)
    yield lock(device.dev_set.lock)
    ret = yield from K.vfio_df_open(device)
    yield unlock(device.dev_set.lock)
    yield unlock(device.group.group_lock)
    return ret


@mirrors("drivers/vfio/group.c", note="group_lock -> dev_set->lock -> vfio_df_close", v612=235, v72=238)
def vfio_df_group_close(device):
    yield lock(device.group.group_lock)
    yield lock(device.dev_set.lock)
    yield from K.vfio_df_close(device)
    yield unlock(device.dev_set.lock)
    yield unlock(device.group.group_lock)


@mirrors("drivers/vfio/group.c", v612=252, v72=255)
def vfio_device_open_file(device):
    return (yield from K.vfio_df_group_open(device))


@mirrors("drivers/vfio/group.c", note="VFIO_GROUP_GET_DEVICE_FD", v612=312, v72=303)
def vfio_group_ioctl_get_device_fd(group, name):  # noqa: F811
    device = yield from K.vfio_device_get_from_name(group, name)
    if device is None:
        return None, ENODEV
    ret = yield from K.vfio_device_open_file(device)
    if ret:
        yield from K.vfio_device_put_registration(device)
        return None, ret
    return device, 0


@mirrors("drivers/vfio/vfio_main.c", note="group path: vfio_df_group_close; then the registration put",
         v612=635, v72=648)
def vfio_device_fops_release(device):  # noqa: F811
    yield from K.vfio_df_group_close(device)
    yield from K.vfio_device_put_registration(device)
    return 0


# -- registration and unregistration ----------------------------------------------------------------

def register_group_dev_at_setup(device):
    """__vfio_register_dev for a device bound at boot (no model events)."""
    device.group.device_list.poke("devices", device.group.device_list.peek("devices") + (device,))


@mirrors("drivers/vfio/vfio_main.c", note="vfio_device_add; L(group->device_lock){list_add}",
         v61=527, v612=312, v72=324)
def __vfio_register_dev(device):
    yield lock(device.group.device_lock)
    yield rmw(device.group.device_list, "devices", lambda t: t + (device,))
    yield unlock(device.group.device_lock)
    return 0


def _group_unregister(device):
    yield lock(device.group.device_lock)
    yield rmw(device.group.device_list, "devices", lambda t: tuple(d for d in t if d is not device))
    yield unlock(device.group.device_lock)


_REQUESTS = 2  # the model's bound on ops->request calls (see _wait_for_users)


def _wait_for_users(device):
    """The loop of vfio_unregister_group_dev: ``ops->request(device, i++)``, then a 10 s timed wait,
    until the last user's put completes ``device->comp``.

    Time is free in the model, so a timed wait that finds the completion not yet done may
    always have timed out: the first wait is a ``try_wait_for_completion`` (done, or the
    timeout: request again), the second an unbounded wait.  Two requests show everything a
    third would (v6.1's ``igate`` is taken again, when it may be held); more are not modelled.
    """
    yield from K.vfio_device_put_registration(device)
    rc = yield try_wait_for_completion(device.comp)
    i = 0
    while not rc:
        if device.ops.get("request"):
            yield from getattr(K, device.ops["request"])(device, i)
        i += 1
        if i < _REQUESTS:
            rc = yield try_wait_for_completion(device.comp)  # wait_for_completion_*_timeout: timed out?
        else:
            yield wait_for_completion(device.comp)  # the later timed waits, until the users are gone
            rc = True


@mirrors("drivers/vfio/vfio_main.c", note="6.1: wait for the users, then off the group list", v61=634)
def vfio_unregister_group_dev(device):
    yield from _wait_for_users(device)
    yield from _group_unregister(device)
    # device_del(&device->device); vfio_device_remove_group


@mirrors("drivers/vfio/vfio_main.c", note="6.12/7.2: off the group list first (no new opens), then wait",
         v612=385, v72=397)
def vfio_unregister_group_dev(device):  # noqa: F811
    yield from _group_unregister(device)  # vfio_device_group_unregister
    # vfio_device_debugfs_exit; vfio_device_del
    yield from _wait_for_users(device)
    # vfio_device_remove_group


@mirrors("drivers/vfio/vfio_main.c", note="the last put of the vfio device: vfio_release_device_set",
         v61=347, v612=184, v72=196)
def vfio_device_release(device):
    yield from K.vfio_release_device_set(device)


__all__ = ["EINVAL", "write"]
