"""``struct hotplug_slot`` and ``struct hotplug_slot_ops`` (include/linux/pci_hotplug.h).

``ops`` maps an op name (``enable_slot``, ``disable_slot``, ``reset_slot``) to
the name of the model function in ``K`` implementing it, so that a patch
replacing e.g. ``pciehp_reset_slot`` in the function table is what the PCI
core calls.  ``pci_slot`` (``slot->pci_slot``) is shared: pci_hp_destroy
clears it without a lock.  ``kn`` holds the kernfs nodes of the slot's
hotplug attributes (only ``power`` is modelled), created by ``fs_add_slot``.

Mirrors the structs of include/linux/pci_hotplug.h (no functions).
"""

from __future__ import annotations

from pcilock._engine_imports import Shared


class HotplugSlot(Shared):
    _shared_ = {"pci_slot": None}

    def __init__(self, ops, ctrl, **kw):
        super().__init__(**kw)
        self.ops = dict(ops)
        self.ctrl = ctrl  # container_of(slot, struct controller, hotplug_slot)
        self.owner = None  # built-in pciehp: try_module_get(NULL) always succeeds
        self.kn = {}

    def describe(self):
        return f"hotplug_slot {self.ctrl.name if self.ctrl is not None else '?'}"
