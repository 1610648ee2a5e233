"""fs/kernfs/file.c: how a sysfs write reaches the attribute's store method."""

from __future__ import annotations

from pcilock.kernel._model import K, mirrors

ENODEV = -19


@mirrors("fs/kernfs/file.c", v61=311, v612=311, v72=304)
def kernfs_fop_write_iter(kn, store, buf):
    """A write(2) on an open sysfs file: the store runs holding an active reference.

    ``of->mutex`` is per open file and two writers use two opens, so it is not
    modelled.
    """
    if (yield from K.kernfs_get_active(kn)) is None:
        return ENODEV
    ret = yield from store(buf)
    yield from K.kernfs_put_active(kn)
    return ret


@mirrors("fs/kernfs/file.c", note="read(2) of a sysfs file: seq_read_iter -> kernfs_seq_start (active "
         "reference), the show method, kernfs_seq_stop (put)", v61=294, v612=294, v72=287)
def kernfs_fop_read_iter(kn, show):
    if (yield from K.kernfs_get_active(kn)) is None:
        return ENODEV
    ret = yield from show()
    yield from K.kernfs_put_active(kn)
    return ret
