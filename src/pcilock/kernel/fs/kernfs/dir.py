"""fs/kernfs/dir.c: active references, removal, self-removal."""

from __future__ import annotations

from pcilock._engine_imports import (
    complete_all,
    gate_close,
    gate_enter,
    gate_leave,
    gate_reenter,
    rmw,
    wait_for_completion,
)
from pcilock.kernel._model import K, mirrors


@mirrors("fs/kernfs/dir.c", v61=433, v612=434, v72=462)
def kernfs_get_active(kn):
    ok = yield gate_enter(kn.active)
    return kn if ok else None


@mirrors("fs/kernfs/dir.c", v61=453, v612=454, v72=482)
def kernfs_put_active(kn):
    yield gate_leave(kn.active)


@mirrors("fs/kernfs/dir.c", v61=477, v612=478, v72=508)
def kernfs_drain(kn):
    # waits until every active reference is put (kernfs_rwsem dropped meanwhile)
    yield gate_close(kn.active)


@mirrors("fs/kernfs/dir.c", v61=1422, v612=1447, v72=1537)
def __kernfs_remove(kn):
    was_linked = yield rmw(kn, "linked", lambda v: v)
    if not was_linked:
        return
    # deactivate, then drain, then unlink (only one remover wins the unlink)
    yield from K.kernfs_drain(kn)
    yield rmw(kn, "linked", lambda v: False)


@mirrors("fs/kernfs/dir.c", v61=1490, v612=1518, v72=1613)
def kernfs_remove(kn):
    yield from K.__kernfs_remove(kn)


@mirrors("fs/kernfs/dir.c", v61=1518, v612=1546, v72=1643)
def kernfs_break_active_protection(kn):
    yield from K.kernfs_put_active(kn)


@mirrors("fs/kernfs/dir.c", v61=1543, v612=1571, v72=1668)
def kernfs_unbreak_active_protection(kn):
    yield gate_reenter(kn.active)


@mirrors("fs/kernfs/dir.c", v61=1587, v612=1615, v72=1712)
def kernfs_remove_self(kn):
    yield from K.kernfs_break_active_protection(kn)
    was = yield rmw(kn, "suicidal", lambda v: True)
    if not was:
        yield from K.__kernfs_remove(kn)
        # the kernel sets SUICIDED and restores the active reference in one kernfs_rwsem write
        # section: a loser cannot see SUICIDED before the winner holds its reference again
        yield from K.kernfs_unbreak_active_protection(kn)
        yield rmw(kn, "suicided", lambda v: True)
        yield complete_all(kn.suicided_wait)
        return True
    # wait until the winner set SUICIDED and every active reference is gone, i.e. until the
    # winner's whole store returned
    yield wait_for_completion(kn.suicided_wait)
    yield gate_close(kn.active)
    yield from K.kernfs_unbreak_active_protection(kn)
    return False
