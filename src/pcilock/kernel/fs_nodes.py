"""Creating the kernfs nodes of a device's sysfs attributes (sysfs_create_groups)."""

from __future__ import annotations

from pcilock.kernel.include.linux.kernfs import KernfsNode


def make_nodes(owner, attrs):
    return {a: KernfsNode(owner, a) for a in attrs}
