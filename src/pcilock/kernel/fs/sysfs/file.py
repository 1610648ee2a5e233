"""fs/sysfs/file.c."""

from __future__ import annotations

from pcilock.kernel._model import K, mirrors


@mirrors("fs/sysfs/file.c", v61=508, v612=521, v72=526)
def sysfs_remove_file_self(dev, attr):
    kn = dev.kn.get(attr)
    if kn is None:
        return False
    return (yield from K.kernfs_remove_self(kn))
