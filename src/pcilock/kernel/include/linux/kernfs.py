"""``struct kernfs_node`` as far as sysfs attribute files need it (include/linux/kernfs.h).

``active`` is the node's active-reference count (``kn->active``) as an engine
:class:`Gate`: ``kernfs_get_active`` enters it and fails once the node is
deactivated; a removal closes it and waits until it drains.  Lockdep tracks
it like a read-held rwsem (class per attribute definition) unless the
attribute is ``*_ATTR_IGNORE_LOCKDEP`` (``remove``, driver ``bind``/``unbind``).

Flags ``SUICIDAL``/``SUICIDED`` and the "linked in the parent" state are
changed under ``kernfs_rwsem`` in the kernel; here they are shared fields
changed by atomic operations (``rmw``), which gives the same arbitration
between concurrent removers.  ``kernfs_rwsem`` itself is not modelled: every
removal drops it while draining (fs/kernfs/dir.c kernfs_drain), so it never
stays held while a PCI lock is awaited.

Mirrors struct kernfs_node of include/linux/kernfs.h (no functions).
"""

from __future__ import annotations

from pcilock._engine_imports import Completion, Gate, Shared

IGNORE_LOCKDEP = frozenset({"remove", "bind", "unbind"})


class KernfsNode(Shared):
    _shared_ = {"linked": True, "suicidal": False, "suicided": False}

    def __init__(self, owner_name, attr, key=None, **kw):
        super().__init__(**kw)
        self.attr = attr
        self.name = f"{owner_name}/{attr}"
        # the lockdep class is the attribute *definition*'s key: ``key`` tells apart definitions that
        # share a name (the pci_bus class rescan, dev_attr_bus_rescan, vs a device's dev_attr_dev_rescan)
        self.active = Gate(f"kn->active {owner_name}/{attr}", f"kn->active#{key or attr}",
                           validate=attr not in IGNORE_LOCKDEP)
        # wakes tasks in kernfs_remove_self waiting for the winner (deactivate_waitq)
        self.suicided_wait = Completion(f"kernfs_remove_self {owner_name}/{attr}")

    def describe(self):
        return self.name
