"""The executable model of the Linux PCI core, mirroring the kernel tree.

``pcilock/kernel/drivers/pci/remove.py`` holds the model of
``drivers/pci/remove.c``, and so on.  :func:`load_all` imports every model
module so that the function registry is complete.
"""

from __future__ import annotations

import importlib
import pkgutil

_loaded = False


def load_all():
    global _loaded
    if _loaded:
        return
    import pcilock.kernel as pkg

    names = sorted(m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."))
    for name in names:
        importlib.import_module(name)
    _loaded = True
