"""Toy programs and results for the report tests, shaped like PCI-core bugs.

Function names follow the kernel paths they caricature so the reports look
like the real thing (and the browser test can look for them in the panel).
"""

from __future__ import annotations

from pcilock.engine import (
    Budget,
    Completion,
    Found,
    Mutex,
    Program,
    Result,
    Setup,
    Stats,
    StopReason,
    ThreadSpec,
)
from pcilock.engine import explore as engine_explore
from pcilock.engine.objects import Shared
from pcilock.engine.ops import lock, put_ref, read, unlock, wait_for_completion, write
from pcilock.engine.runner import replay

DEV = "&dev->mutex 0000:01:00.0"
RESCAN = "pci_rescan_remove_lock"


def pci_lock_rescan_remove(m):
    yield lock(m)


def device_lock(m):
    yield lock(m)


def sriov_abba(dev_name=DEV, rescan_name=RESCAN, remove_task="remove", sriov_task="sriov", workers=0):
    """remove_store: rescan lock then device lock; sriov_numvfs_store: the other order."""
    def setup():
        dev = Mutex(dev_name, lock_class="&dev->mutex", validate=False)
        rescan = Mutex(rescan_name)

        def pci_stop_and_remove_bus_device_locked():
            yield from pci_lock_rescan_remove(rescan)
            yield from device_lock(dev)
            yield unlock(dev)
            yield unlock(rescan)

        def remove_store():
            yield from pci_stop_and_remove_bus_device_locked()

        def sriov_configure():
            yield from pci_lock_rescan_remove(rescan)
            yield unlock(rescan)

        def sriov_numvfs_store():
            yield from device_lock(dev)
            yield from sriov_configure()
            yield unlock(dev)

        def worker(m):
            yield lock(m)
            yield unlock(m)

        th = [ThreadSpec(remove_task, remove_store), ThreadSpec(sriov_task, sriov_numvfs_store)]
        th += [ThreadSpec(f"kworker/{i}", worker, (Mutex(f"wq{i}"),)) for i in range(workers)]
        return th
    return Program(setup, name="sriov-abba")


def vfio_hang():
    """vfio-pci .remove waits for a userspace close that never comes, holding the device lock."""
    def setup():
        dev = Mutex(DEV)
        released = Completion("vfio release")

        def vfio_pci_remove():
            yield from device_lock(dev)
            yield wait_for_completion(released)
            yield unlock(dev)

        def reset_store():
            yield from device_lock(dev)
            yield unlock(dev)
        return [ThreadSpec("unbind", vfio_pci_remove), ThreadSpec("reset", reset_store)]
    return Program(setup, name="vfio-hang")


def broken_model():
    """A model thread that raises: a model error, not a verdict."""
    def setup():
        m = Mutex("m")

        def pci_bus_add_device():
            yield lock(m)
            raise KeyError("no such device 0000:02:00.0")
        return [ThreadSpec("rescan", pci_bus_add_device)]
    return Program(setup, name="broken")


def independent():
    def setup():
        a, b = Mutex("a"), Mutex("b")

        def t(m):
            yield lock(m)
            yield unlock(m)
        return Setup([ThreadSpec("A", t, (a,)), ThreadSpec("B", t, (b,))])
    return Program(setup, name="independent")


def explore(prog, **kw):
    r = engine_explore(prog, **kw)
    r.stats.seconds = 0.0  # wall time is the only nondeterministic input of a report
    return r


def inconclusive():
    return explore(sriov_abba(workers=2), budget=Budget(executions=1))


class FakeLockGraph:
    """The documented shape of ``result.lock_graph`` (the engine may not have one yet)."""

    def __init__(self, frame_file):
        self.frame_file = frame_file

    def to_json(self):
        f = self.frame_file
        return {
            "cycles": [
                {"locks": [RESCAN, DEV], "classes": [RESCAN, "&dev->mutex"], "lockdep_visible": False,
                 "chains": [
                     {"held": RESCAN, "acquired": DEV, "thread": "remove",
                      "held_stack": [["remove_store", f, 40]], "acquired_stack": [["device_lock", f, 21]]},
                     {"held": DEV, "acquired": RESCAN, "thread": "sriov",
                      "held_stack": [["sriov_numvfs_store", f, 50]],
                      "acquired_stack": [["pci_lock_rescan_remove", f, 17]]},
                 ]},
                {"locks": ["pci_bus_sem", 'odd "name"\\x'], "classes": ["pci_bus_sem", "odd"],
                 "lockdep_visible": True, "chains": []},
            ],
            "edges": 5,
        }


def with_lock_graph(result):
    result.lock_graph = FakeLockGraph(__file__)
    return result


class PciDev(Shared):
    """A caricature of struct pci_dev: a flag and a reference count."""

    _shared_ = {"is_added": 1, "refcount": 1}

    def __init__(self, name):
        super().__init__()
        object.__setattr__(self, "name", name)


def is_added_race():
    """pci_dev_is_added() reads the flag pci_stop_dev() clears, with no lock in common."""
    def setup():
        dev = PciDev("0000:01:00.0")

        def pci_dev_is_added():
            yield read(dev, "is_added")

        def pci_stop_dev():
            yield write(dev, "is_added", 0)

        def rescan_store():
            yield from pci_dev_is_added()

        def remove_store():
            yield from pci_stop_dev()
        return Setup([ThreadSpec("rescan", rescan_store), ThreadSpec("remove", remove_store)], dev)
    return Program(setup, name="is-added-race")


def put_then_use():
    """remove drops the last reference (freeing the device) while rescan still reads it."""
    def setup():
        dev = PciDev("0000:01:00.0")

        def pci_dev_put():
            yield from put_ref(dev)

        def pci_stop_and_remove_bus_device():
            yield from pci_dev_put()

        def pci_dev_is_added():
            yield read(dev, "is_added", marked=True)

        def rescan_store():
            yield from pci_dev_is_added()
        return Setup([ThreadSpec("remove", pci_stop_and_remove_bus_device),
                      ThreadSpec("rescan", rescan_store)], dev)
    return Program(setup, name="put-then-use")


def _readers_writers():
    from toys import Vars

    def setup():
        v = Vars()

        def pci_dev_is_added():
            yield read(v, "x0")

        def pci_stop_dev():
            yield write(v, "x0", 0)
        return Setup([ThreadSpec("rescan", pci_dev_is_added), ThreadSpec("remove", pci_stop_dev)], v)
    return Program(setup, name="race")


def synthetic(kind):
    """A race or uaf result whose detail names threads by ``tid`` (another shape reports must take)."""
    prog = _readers_writers()
    schedule = [(0, None), (1, None)]
    run = replay(prog, schedule)
    f = __file__
    if kind == "race":
        detail = {"accesses": [
            {"tid": 0, "access": "read", "field": "dev.is_added", "stack": [("pci_dev_is_added", f, 10)]},
            {"tid": 1, "access": "write", "field": "dev.is_added", "stack": [("pci_stop_dev", f, 20)]},
        ]}
        message = "data-race on dev.is_added"
    else:
        detail = {"free": {"tid": 1, "stack": [("pci_stop_dev", f, 20), ("pci_dev_put", f, 21)]},
                  "use": {"tid": 0, "stack": [("pci_dev_is_added", f, 10)]}}
        message = "use of struct pci_dev 0000:01:00.0 after it was freed"
    found = Found(kind=kind, message=message, signature=(kind, message), schedule=schedule, tids=[0, 1],
                  detail=detail, preemptions=0, trace=run)
    stats = Stats(executions=3, complete=3, events=6, stop_reason=StopReason.VIOLATION)
    return Result(verdict=kind, exhaustive=False, stats=stats, found=[found], strategy="dpor", seed=0)


def exits_holding():
    """A store method that returns to user space with the device lock held (lockdep warns)."""
    def setup():
        dev = Mutex(DEV)

        def reset_store():
            yield from device_lock(dev)
        return [ThreadSpec("reset", reset_store)]
    return Program(setup, name="exits-holding")
