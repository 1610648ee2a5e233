"""``struct module`` of a driver module: its reference count and state (include/linux/module.h,
kernel/module/main.c, kernel/async.c) in v6.1, v6.12 and v7.2 (same logic in the three).

``refcnt`` is ``MODULE_REF_BASE`` (1) while the module is loaded and unused, plus one per
``try_module_get`` (vfio takes one for an open device file) and one during its init; 0 means
it is going.  ``state`` is None (no such module: not loaded), ``"coming"`` (init running),
``"live"`` or ``"going"`` (exit running).  The kernel writes ``mod->state`` under
``module_mutex`` and ``module_is_live`` reads it without a lock; both are modelled as marked
accesses (the benign lockless read is not what the scenarios ask about).

Not modelled: module dependencies (``source_list``), forced unload, init failures, kallsyms,
sysfs of the module.  What userspace ``modprobe``/``modprobe -r`` do before the system call
(kmod checks ``/sys/module/NAME/initstate`` and the refcount) is summarised in
:mod:`pcilock.kernel.userspace`.
"""

from __future__ import annotations

from pcilock._engine_imports import (
    Completion,
    Shared,
    check,
    complete_all,
    join,
    lock,
    read,
    rmw,
    unlock,
    wait_for_completion,
    write,
)
from pcilock.kernel._model import K, W, mirrors

MODULE_REF_BASE = 1
ENOENT, EBUSY, EEXIST, EWOULDBLOCK = -2, -16, -17, -11


class Module(Shared):
    """``struct module`` (``refcnt``, ``state``); ``exit``/``init`` call the driver's
    ``module_exit``/``module_init`` (``pci_unregister_driver``/``pci_register_driver``)."""

    _shared_ = {"refcnt": 0, "state": None}

    def __init__(self, name, init=None, exit=None, **kw):
        super().__init__(**kw)
        self.name = name
        self.init = init  # generator function () -> int
        self.exit = exit  # generator function ()
        self.async_probe_requested = False  # the async_probe module parameter (never given)
        # module_wq, for a second loader waiting on this load (one per load: replaced when it starts)
        self.init_done = None

    def describe(self):
        return f"module {self.name}"


def boot_loaded(mod):
    """A module loaded before the scenario starts (no model events)."""
    mod.poke("state", "live")
    mod.poke("refcnt", MODULE_REF_BASE)


@mirrors("kernel/module/main.c", note="module_is_live (state != GOING), then atomic_inc_not_zero",
         v61=831, v612=865, v72=935)
def try_module_get(mod):
    if mod is None:
        return True
    if (yield read(mod, "state", marked=True)) == "going":
        return False
    return (yield rmw(mod, "refcnt", lambda v: v + 1 if v else v)) != 0


@mirrors("kernel/module/main.c", note="atomic_dec_if_positive; WARN_ON on a failed put", v61=850, v612=881,
         v72=951)
def module_put(mod):
    if mod is None:
        return
    old = yield rmw(mod, "refcnt", lambda v: v - 1 if v > 0 else v)
    yield check(old > 0, f"WARN_ON: module_put({mod.name}) with refcnt {old}")


@mirrors("kernel/module/main.c", v61=650, v612=686, v72=758)
def try_release_module_ref(mod):
    ret = (yield rmw(mod, "refcnt", lambda v: v - MODULE_REF_BASE)) - MODULE_REF_BASE
    yield check(ret >= 0, f"BUG_ON: {mod.name} refcnt below MODULE_REF_BASE", fatal=True)
    if ret:
        # someone holds a reference: add the base back unless it just dropped to 0
        ret = int((yield rmw(mod, "refcnt", lambda v: v + MODULE_REF_BASE if v else v)) != 0)
    return ret


@mirrors("kernel/module/main.c", note="no forced unload", v61=664, v612=700, v72=772)
def try_stop_module(mod):
    if (yield from K.try_release_module_ref(mod)) != 0:
        return EWOULDBLOCK
    yield write(mod, "state", "going", marked=True)
    return 0


@mirrors("kernel/module/main.c", note="SYSCALL_DEFINE2(delete_module): module_mutex, LIVE check, "
         "try_stop_module, then exit() and async_synchronize_full() without the mutex",
         v61=696, v612=732, v72=804)
def delete_module(mod):
    yield lock(W.module_mutex)
    state = yield read(mod, "state", marked=True)
    if state is None:
        yield unlock(W.module_mutex)
        return ENOENT
    if state != "live":  # doing init or already dying
        yield unlock(W.module_mutex)
        return EBUSY
    ret = yield from K.try_stop_module(mod)
    if ret:
        yield unlock(W.module_mutex)
        return ret
    yield unlock(W.module_mutex)
    yield from mod.exit()
    yield from K.async_synchronize_full()
    yield from K.free_module(mod)
    # wake_up_all(&module_wq): a loader never waits on a going module (it fails with EBUSY)
    return 0


@mirrors("kernel/module/main.c", note="the module leaves the list under module_mutex", v61=1151,
         v612=1293, v72=1417)
def free_module(mod):
    yield lock(W.module_mutex)
    yield write(mod, "state", None, marked=True)
    yield unlock(W.module_mutex)


@mirrors("kernel/module/main.c", note="add_unformed_module (an old module of that name: EEXIST if live; "
         "if coming, wait for it to finish, then EEXIST/EBUSY; if going, EBUSY), module_unload_init "
         "(refcnt = BASE + 1 for the init), complete_formation (COMING), do_init_module",
         v61=2709, v612=3064, v72=3434)
def load_module(mod):
    yield lock(W.module_mutex)
    state = yield read(mod, "state", marked=True)
    if state is not None:
        yield unlock(W.module_mutex)
        if state == "coming":
            yield wait_for_completion(mod.init_done)  # wait_event(module_wq, finished_loading())
            state = yield read(mod, "state", marked=True)
        return EEXIST if state == "live" else EBUSY
    yield write(mod, "refcnt", MODULE_REF_BASE + 1, marked=True)
    yield write(mod, "state", "coming", marked=True)
    mod.init_done = Completion(f"module_wq {mod.name}")  # published by the state write (one step)
    yield unlock(W.module_mutex)
    return (yield from K.do_init_module(mod))


@mirrors("kernel/module/main.c", note="init, LIVE, async_synchronize_full unless async_probe_requested, "
         "drop the init reference, wake module_wq", v61=2463, v612=2723, v72=3089)
def do_init_module(mod):
    ret = yield from mod.init()
    # an init failure (GOING, free) is not modelled: pci_register_driver returns 0 in the model
    yield write(mod, "state", "live", marked=True)
    if not mod.async_probe_requested:
        yield from K.async_synchronize_full()
    yield lock(W.module_mutex)
    yield from K.module_put(mod)  # the reference held during init
    yield unlock(W.module_mutex)
    yield complete_all(mod.init_done)  # wake_up_all(&module_wq)
    return ret


@mirrors("kernel/async.c", note="waits for every async_schedule()d function (the driver core's async "
         "probes and attaches) queued so far", v61=280, v612=282, v72=282)
def async_synchronize_full():
    for t in list(W.async_threads):
        yield join(t)
