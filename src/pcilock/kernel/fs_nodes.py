"""Creating the kernfs nodes of a device's sysfs attributes (sysfs_create_groups).

Model-only: mirrors no kernel function.  It builds at boot the nodes that
fs/sysfs/group.c would have created; no model step runs here.
"""

from __future__ import annotations

from pcilock.kernel.include.linux.kernfs import KernfsNode


def make_nodes(owner, attrs, kind=None):
    """The nodes of *owner*'s attribute files; *kind* ("pci_bus" for the pci_bus class device) keys the
    lockdep class of attributes whose definitions differ from a PCI device's of the same name."""
    return {a: KernfsNode(owner, a, key=f"{kind}:{a}" if kind else None) for a in attrs}
