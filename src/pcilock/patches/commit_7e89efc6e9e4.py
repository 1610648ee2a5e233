"""7e89efc6e9e4 "PCI: Lock upstream bridge for pci_reset_function()".

Dan Williams, 2024 (v6.10); in v6.12 and v7.2, not in v6.1.192 (checked in the
trees: drivers/pci/pci.c 6.1:5460 locks only the device; 6.12 and 7.2:5229
take ``pci_dev_lock(pci_upstream_bridge(dev))`` first and drop it last).  The
commit hash and title are the ones the kernel sources and the 2024 discussion
use; the patch mail itself was not available here, so the override is the
difference between the two trees' ``pci_reset_function``, nothing else.

* ``-7e89efc6e9e4`` (v6.12, v7.2): ``pci_reset_function`` as in v6.1.
* ``+7e89efc6e9e4`` (v6.1): ``pci_reset_function`` as in v6.12/v7.2.

Its companion 920f6468924f ("unlocked secondary bus reset" warning) is part of
``pci_bridge_secondary_bus_reset`` in the v6.12/v7.2 bases and is not touched.
"""

from __future__ import annotations

from pcilock.kernel._model import V72, V612, K
from pcilock.kernel.drivers.pci.pci import ENOTTY

from ._patch import Patch
from .regime import register

PATCH = register(Patch(
    id="7e89efc6e9e4",
    title="PCI: Lock upstream bridge for pci_reset_function()",
    links=["https://lore.kernel.org/linux-pci/?q=%22Lock+upstream+bridge+for+pci_reset_function%22"],
    in_bases=(V612, V72),
))


@PATCH.before_fn("drivers/pci/pci.c", note="only the device is locked (as v6.1)", v612=5373, v72=5229)
def pci_reset_function(dev):
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    yield from K.pci_dev_lock(dev)
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    yield from K.pci_dev_unlock(dev)
    return rc


@PATCH.after_fn("drivers/pci/pci.c", note="the upstream bridge locked first (as v6.12/v7.2)", v61=5460)
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
