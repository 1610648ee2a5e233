"""``struct pci_dev``, ``struct pci_bus``, ``struct pci_driver``, ``struct pci_slot``,
``struct pci_sriov`` as far as the model needs them.

Mirrors include/linux/pci.h and drivers/pci/pci.h (the ``priv_flags`` bits) of
v6.1, v6.12 and v7.2.  Version differences kept explicit:

* ``priv_flags``: ADDED (all), REMOVED and ALLOW_BINDING (v7.2 only; v6.x use
  ``match_driver`` instead of ALLOW_BINDING).
* ``cfg_access``: the ``block_cfg_access`` bit with pci_lock and the global wait
  queue behaves as a non-recursive sleeping lock without owner; modelled as a
  mutex named ``pci_cfg_access_lock BDF`` (class ``pci_cfg_access_lock``).

Shared fields are those the kernel reads or writes without one common lock and
that the seed threads argue about: ``bus.devices`` (list changes under
``pci_bus_sem``, lockless walks in pci_bus_add_devices / pci_stop_bus_device),
``pci_dev.pci_driver`` (``pci_dev->driver``), ``priv_flags``, ``is_probed``,
``sriov.num_VFs``, ``sriov.drivers_autoprobe``, ``slot`` (``pci_dev->slot``).
"""

from __future__ import annotations

from pcilock._engine_imports import Mutex, RWSem, Shared
from pcilock.kernel._model import K as _K

from .device import Device, DeviceDriver
from .module import Module

PCI_DEV_ADDED = 0
PCI_DEV_REMOVED = 3
PCI_DEV_ALLOW_BINDING = 7

NUMA_NO_NODE = -1


def bdf_of(domain, bus, devfn):
    return f"{domain:04x}:{bus:02x}:{devfn >> 3:02x}.{devfn & 7:x}"


class PciSriov(Shared):
    """``struct pci_sriov`` (drivers/pci/pci.h)."""

    _shared_ = {"num_VFs": 0, "drivers_autoprobe": True}

    def __init__(self, total_VFs, offset, stride, link=None, **kw):
        super().__init__(**kw)
        self.total_VFs = total_VFs
        self.offset = offset
        self.stride = stride
        self.driver_max_VFs = total_VFs
        # InitialVFs: a PF without VF Migration must report InitialVFs == TotalVFs (the only case the
        # topology describes); sriov_enable adds min(nr_virtfn, InitialVFs) VFs
        self.initial_VFs = total_VFs
        self.link = link  # Function Dependency Link (a devfn); set by sriov_init to the PF's own devfn


class PciDev(Device):
    _shared_ = {
        "pci_driver": None,  # pci_dev->driver
        "priv_flags": frozenset(),
        "match_driver": False,  # v6.x
        "is_probed": False,
        "subordinate": None,
        "slot": None,  # pci_dev->slot (NULL when the hotplug driver unbinds)
        "driver_override": None,
        "error_state": "normal",  # pci_channel_state_t (pci_dev_set_io_state)
    }

    def __init__(self, bdf, bus, devfn, **kw):
        super().__init__(bdf, **kw)
        self.bdf = bdf
        self.bus = bus
        self.devfn = devfn
        self.type = "endpoint"
        self.is_physfn = False
        self.is_virtfn = False
        self.physfn = None
        self.sriov = None
        self.vf_index = None
        self.numa_node = NUMA_NO_NODE
        self.reset_methods = ()
        self.hotplug_ctrl = None  # pciehp controller of a hotplug port
        self.link_state = False  # a struct pcie_link_state exists (downstream ports; changed under aspm_lock)
        self.link_downstream = None  # link->downstream: the link's function 0
        self.cfg_access = Mutex(f"pci_cfg_access_lock {bdf}", "pci_cfg_access_lock")
        self.present = True
        self.spec = None  # the DeviceSpec it came from

    def describe(self):
        return self.bdf

    def __repr__(self):
        return f"<pci_dev {self.bdf}>"


class PciBus(Shared):
    _shared_ = {"devices": ()}

    def __init__(self, domain, number, parent=None, self_dev=None, **kw):
        super().__init__(**kw)
        self.domain = domain
        self.number = number
        self.parent = parent
        self.self = self_dev  # the bridge above it (None for a root bus / virtual VF bus)
        self.children = []
        self.name = f"{domain:04x}:{number:02x}"
        # the pci_bus class device (/sys/class/pci_bus/DDDD:BB)
        self.dev = Device(self.name)

    def describe(self):
        return f"pci_bus {self.name}"

    def __repr__(self):
        return f"<pci_bus {self.name}>"


class PciDriver(DeviceDriver):
    """``struct pci_driver``: callbacks are model generator functions or None."""

    def __init__(self, name, probe=None, remove=None, sriov_configure=None, async_probe=False,
                 ids=None, boot=None, sriov_set_msix_vec_count=None, sriov_get_vf_total_msix=None, **kw):
        super().__init__(name, **kw)
        self.boot = boot  # sets up driver state of a device bound at boot (no model events)
        self.probe = probe
        self.remove = remove
        self.sriov_configure = sriov_configure
        self.sriov_set_msix_vec_count = sriov_set_msix_vec_count  # (vf, count) -> int
        self.sriov_get_vf_total_msix = sriov_get_vf_total_msix  # (pf) -> int
        self.async_probe = async_probe  # PROBE_PREFER_ASYNCHRONOUS
        self.ids = ids  # predicate (pci_dev) -> bool: pci_match_device
        self.options = {}
        # THIS_MODULE of the driver (pcieport is built in: never loaded or unloaded by a scenario)
        self.owner = Module(name, init=lambda: _K.pci_register_driver(self),
                            exit=lambda: _K.pci_unregister_driver(self))


class PciSlot(Shared):
    """``struct pci_slot`` (/sys/bus/pci/slots/N).

    ``hotplug`` (``pci_slot->hotplug``, the ``struct hotplug_slot`` of the
    hotplug driver that claimed the slot, or None) is shared: pci_hp_destroy
    clears it without a lock while the reset paths read it without a lock.
    ``reset_lock`` exists only with the posted, unmerged wunner-2020 patch
    (:mod:`pcilock.patches.wunner_2020`), which moves pciehp's reset lock
    into the slot; it is owned by the slot (a use after ``kfree(slot)`` is a
    use after free).
    """

    _shared_ = {"refcount": 1, "hotplug": None}
    _owns_ = ("reset_lock",)

    def __init__(self, bus, number, hotplug=None, **kw):
        super().__init__(hotplug=hotplug, **kw)
        self.bus = bus
        self.number = number
        self.name = str(number)
        self.reset_lock = None  # struct rw_semaphore reset_lock (wunner-2020 only)

    def describe(self):
        return f"pci_slot {self.name}"


pci_bus_sem_name = "pci_bus_sem"


def new_global_locks():
    """The PCI core's global locks, fresh for one execution."""
    return {
        "pci_rescan_remove_lock": Mutex("pci_rescan_remove_lock"),
        "pci_bus_sem": RWSem("pci_bus_sem"),
        "pci_slot_mutex": Mutex("pci_slot_mutex"),
        "aspm_lock": Mutex("aspm_lock"),  # drivers/pci/pcie/aspm.c
    }
