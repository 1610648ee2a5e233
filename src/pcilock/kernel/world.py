"""The modelled machine: topology description and its state at the start of a run.

:class:`DeviceSpec` describes one function as a scenario declares it.  A
:class:`Topology` is the validated list of them.  :func:`build_world` makes,
for one execution, every object the kernel model reads through ``W``: the
global locks, buses, devices already enumerated and bound as at boot, loaded
drivers, hotplug controllers, and the hardware (``W.hw``: which functions are
present, for scans).  It builds that state directly, without running probe
code: the scenario starts from a booted system.

Model-only: mirrors no kernel function (the boot state it builds is what the
mirrored probe paths would leave behind).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pcilock._engine_imports import Mutex, Shared, read
from pcilock.kernel.fs_nodes import make_nodes
from pcilock.kernel.include.linux.module import boot_loaded
from pcilock.kernel.include.linux.pci import (
    PCI_DEV_ADDED,
    PCI_DEV_ALLOW_BINDING,
    PciBus,
    PciDev,
    PciSlot,
    PciSriov,
    bdf_of,
    new_global_locks,
)

from ._model import V72


@dataclass
class DeviceSpec:
    bdf: str
    type: str = "endpoint"  # root-port | upstream-port | downstream-port | pci-bridge | endpoint
    hotplug: bool = False
    attention_button: bool = False  # the hotplug slot has an Attention Button (Slot Capabilities ABP)
    dpc: bool = False  # the port has a DPC capability (pdev->dpc_cap); the DPC service binds to it
    slot: int | None = None
    parent: str | None = None
    driver: str | None = None
    driver_options: dict = field(default_factory=dict)
    total_vfs: int = 0
    num_vfs: int = 0
    drivers_autoprobe: bool = True
    vf_offset: int = 1
    vf_stride: int = 1
    vf_driver: str | None = None
    numa_node: int = -1
    reset_methods: tuple | None = None
    present: bool = True
    is_vf: bool = False
    physfn: str | None = None

    @property
    def domain(self):
        return int(self.bdf[0:4], 16)

    @property
    def bus(self):
        return int(self.bdf[5:7], 16)

    @property
    def devfn(self):
        return (int(self.bdf[8:10], 16) << 3) | int(self.bdf[11], 16)

    @property
    def is_bridge(self):
        return self.type != "endpoint"


@dataclass
class Topology:
    devices: list  # [DeviceSpec], parents before children
    child_bus: dict = field(default_factory=dict)  # bridge bdf -> secondary bus number

    def spec(self, bdf):
        for d in self.devices:
            if d.bdf == bdf:
                return d
        return None

    def vf_bdf(self, pf, i):
        rid = pf.devfn + pf.vf_offset + pf.vf_stride * i
        return bdf_of(pf.domain, pf.bus + (rid >> 8), rid & 0xFF)


class ConfigSpace(Shared):
    """The hardware of one bus: which functions answer config reads (``W.hw``).

    Hotplug events change ``fns`` (:mod:`pcilock.kernel.drivers.pci.hotplug.hw_events`) and
    scans read it (:meth:`World.read_hw_devfns`, :meth:`World.read_scan_device`), each access a
    marked step (a config access is not a data race), so a scan and a pull or an insertion on
    the same bus are dependent: both orders are explored.
    """

    _shared_ = {"fns": ()}  # ((devfn, DeviceSpec), ...) in devfn order

    def __init__(self, domain, number, **kw):
        super().__init__(**kw)
        self.domain = domain
        self.number = number

    def describe(self):
        return f"config space {self.domain:04x}:{self.number:02x}"


class PciBusType(Shared):
    """``pci_bus_type``'s driver-core state: the device klist, the registered
    drivers, and ``drivers_autoprobe``."""

    _shared_ = {"klist": (), "drivers": (), "drivers_autoprobe": True}


# sriov_pf_dev_attrs in drivers/pci/iov.c order (the modelled ones); sriov_vf_dev_attrs
PF_ATTRS = ("sriov_numvfs", "sriov_drivers_autoprobe", "sriov_vf_total_msix")
VF_ATTRS = ("sriov_vf_msix_count",)
PORT_TYPES = ("root-port", "upstream-port", "downstream-port")


class World:
    """Builds and holds one execution's machine state (``W``)."""

    def __init__(self, topo, version, drivers):
        self.topo = topo
        self.version = version
        self.attrs = dict(new_global_locks())
        self.attrs.update(
            pci_bus_type=PciBusType(), async_threads=[], root_buses=[], buses={}, devices={},
            pci_drivers={}, hw={}, slots={}, hotplug_ctrls={}, vfio={}, world=self,
            kernfs_create_files=self.kernfs_create_files, hw_devfns=self.hw_devfns,
            config_space=self.config_space, read_hw_devfns=self.read_hw_devfns,
            read_scan_device=self.read_scan_device, pci_scan_device=self.pci_scan_device,
            pci_alloc_child_bus=self.pci_alloc_child_bus, pci_alloc_vf=self.pci_alloc_vf,
            find_bus=self.find_bus, topology=topo, version=version,
            module_mutex=Mutex("module_mutex"),
        )
        self.driver_factories = drivers

    # -- construction of objects (also used at run time by scans and SR-IOV) --
    def new_dev(self, spec, bus):
        dev = PciDev(spec.bdf, bus, spec.devfn)
        dev.spec = spec
        dev.type = spec.type
        dev.numa_node = spec.numa_node
        dev.reset_methods = tuple(spec.reset_methods or ())
        dev.parent = bus.self
        dev.child_bus_number = self.topo.child_bus.get(spec.bdf)
        dev.bus_type = "pci"
        # pci_dev_attr_groups order (device_remove_attrs drains them in this order): the hotplug
        # group (remove, rescan; not on VFs), sriov_pf, sriov_vf, then the bridge group
        dev.type_attrs = ("remove", "rescan") if not spec.is_vf else VF_ATTRS
        if spec.total_vfs:
            dev.is_physfn = True
            dev.sriov = PciSriov(spec.total_vfs, spec.vf_offset, spec.vf_stride, link=spec.devfn,
                                 drivers_autoprobe=spec.drivers_autoprobe)
            dev.type_attrs += PF_ATTRS
        if spec.is_bridge:
            dev.type_attrs += ("reset_subordinate",)
        # pci_dev_groups: reset and reset_method are visible only if a reset method is supported
        # (pci_dev_reset_attr_is_visible; 6.x reset_method: pci_dev_reset_method_attr_is_visible)
        dev.bus_attrs = ("reset", "reset_method")
        dev.other_attrs = ()
        self.attrs["devices"][spec.bdf] = dev
        return dev

    def _assign_slot(self, dev, bus):
        # at boot only: pci_setup_device -> pci_dev_assign_slot (drivers/pci/slot.c), the bus's
        # matching slot; devices created at run time go through the model's pci_setup_device
        from pcilock.kernel.drivers.pci.slot import matches_at_setup

        for slot in self.attrs["slots"].values():
            if slot.bus is bus and matches_at_setup(self.version, dev, slot):
                dev.poke("slot", slot)

    def kernfs_create_files(self, dev):
        """device_add's sysfs groups (a generator: the is_visible callbacks read the device)."""
        if dev.bus_type == "pci":
            from pcilock.kernel.drivers.pci.pci import reset_methods_of

            # pci_reset_supported: dev->reset_methods[0], set by pci_init_reset_methods in pci_device_add
            if not (yield read(reset_methods_of(dev), "methods")):
                dev.bus_attrs = ()
        dev.kn = make_nodes(dev.name, tuple(dev.type_attrs) + tuple(dev.bus_attrs) + tuple(dev.other_attrs),
                            kind="pci_bus" if dev.bus_type is None else None)

    def new_bus(self, domain, number, parent, bridge):
        bus = PciBus(domain, number, parent, bridge)
        bus.dev.type_attrs = ("rescan",)
        bus.dev.bus_attrs = ()
        bus.dev.other_attrs = ()
        bus.dev.bus_type = None
        bus.dev.child_bus_number = None
        self.attrs["buses"][bus.name] = bus
        return bus

    def find_bus(self, domain, number):
        return self.attrs["buses"].get(f"{domain:04x}:{number:02x}")

    def config_space(self, domain, number):
        """The :class:`ConfigSpace` of bus *domain*:*number* (one per bus, made at build time;
        a bus of the model that no device of the topology sits on gets an empty one)."""
        cs = self.attrs["hw"].get((domain, number))
        if cs is None:
            cs = self.attrs["hw"][(domain, number)] = ConfigSpace(domain, number)
        return cs

    def hw_devfns(self, bus):
        """The functions answering on *bus* now, without a model step (for callers that cannot
        race with a hotplug event; scans use :meth:`read_hw_devfns`)."""
        return [d for d, _ in self.config_space(bus.domain, bus.number).peek("fns")]

    def read_hw_devfns(self, bus):
        """The functions answering on *bus*: one marked read of its config space."""
        fns = yield read(self.config_space(bus.domain, bus.number), "fns", marked=True)
        return [d for d, _ in fns]

    def read_scan_device(self, bus, devfn):
        """pci_bus_read_dev_vendor_id (a marked read of the config space), then pci_alloc_dev:
        the new ``pci_dev``, or None when no function answers at *devfn*."""
        fns = yield read(self.config_space(bus.domain, bus.number), "fns", marked=True)
        spec = dict(fns).get(devfn)
        if spec is None:
            return None
        return self.new_dev(spec, bus)

    def pci_scan_device(self, bus, devfn):
        """Like :meth:`read_scan_device` without a model step."""
        spec = dict(self.config_space(bus.domain, bus.number).peek("fns")).get(devfn)
        if spec is None:
            return None
        return self.new_dev(spec, bus)

    def pci_alloc_child_bus(self, parent, dev, busnr):
        bus = self.new_bus(parent.domain, busnr, parent, dev)
        return bus

    def pci_alloc_vf(self, pf, vf_id, bus, devfn):
        ps = pf.spec
        bdf = bdf_of(bus.domain, bus.number, devfn)
        spec = DeviceSpec(bdf=bdf, driver=None, numa_node=ps.numa_node, is_vf=True, physfn=ps.bdf)
        dev = self.new_dev(spec, bus)
        # the VF's capabilities: FLR (SR-IOV requires it); pci_init_reset_methods (in pci_device_add)
        # adds "bus" when the VF's slot is a hotplug slot (pci_dev_reset_slot_function)
        dev.reset_methods = ("flr",)
        dev.is_virtfn = True
        dev.physfn = pf
        dev.vf_index = vf_id
        dev.parent = pf.parent
        return dev

    # -- the booted state ------------------------------------------------------
    def loaded_at_boot(self):
        """Names of the model drivers loaded before the scenario starts: the drivers of the
        declared devices and VFs, and pcieport when there is a PCIe port (the same rule as
        :func:`pcilock.scenarios.program.loaded_at_boot`)."""
        names = set()
        for spec in self.topo.devices:
            if spec.type in PORT_TYPES:
                names.add("pcieport")
            for n in (spec.driver, spec.vf_driver):
                if n:
                    names.add(n)
        return names

    def build(self):
        a = self.attrs
        topo = self.topo
        # drivers, in load order (model drivers the scenario uses); those loaded at boot are registered
        boot = self.loaded_at_boot()
        for name, factory in self.driver_factories.items():
            drv = a["pci_drivers"][name] = factory()
            if name in boot:
                drv.poke("registered", True)
                boot_loaded(drv.owner)
        a["pci_bus_type"].poke("drivers", tuple(d for n, d in a["pci_drivers"].items() if n in boot))
        roots = {}
        for spec in topo.devices:
            cs = self.config_space(spec.domain, spec.bus)
            if spec.present:
                cs.poke("fns", tuple(sorted(cs.peek("fns") + ((spec.devfn, spec),), key=lambda f: f[0])))
        from pcilock.kernel.drivers.pci.hotplug.pciehp import build_slot_hw

        build_slot_hw(a, topo)  # the registers of every hotplug port of the topology (hardware)
        for spec in topo.devices:
            key = (spec.domain, spec.bus)
            if spec.parent is None and key not in roots:
                roots[key] = self.new_bus(spec.domain, spec.bus, None, None)
                a["root_buses"].append(roots[key])
        klist = []
        for spec in topo.devices:
            if not spec.present:
                continue
            bus = self.find_bus(spec.domain, spec.bus)
            if bus is None:
                raise ValueError(f"{spec.bdf}: its bus is not below a bridge that is present")
            dev = self.new_dev(spec, bus)
            self._assign_slot(dev, bus)
            self._booted(dev, bus, klist)
            if spec.is_bridge and dev.child_bus_number is not None:
                child = self.new_bus(spec.domain, dev.child_bus_number, bus, dev)
                bus.children.append(child)
                dev.poke("subordinate", child)
                child.dev.kn = make_nodes(child.name, ("rescan",), kind="pci_bus")
                child.dev.poke("registered", True)
            driver = spec.driver
            if driver is None and spec.type in PORT_TYPES and "pcieport" in a["pci_drivers"]:
                driver = "pcieport"  # ports are bound to the PCIe port driver at boot
            if driver:
                self._bind(dev, driver)
            if spec.total_vfs and spec.num_vfs:
                self._boot_vfs(dev, spec, klist)
            if spec.slot is not None or spec.hotplug:
                self._slot(dev, spec)
        for bus in list(a["buses"].values()):
            if bus.parent is None:
                bus.dev.kn = make_nodes(bus.name, ("rescan",), kind="pci_bus")
                bus.dev.poke("registered", True)
        a["pci_bus_type"].poke("klist", tuple(klist))
        self._boot_link_states()
        return a

    def _boot_link_states(self):
        # pcie_aspm_init_link_state at boot: each downstream port with devices below it has a link
        from pcilock.kernel.drivers.pci.pcie.aspm import pci_function_0, pcie_downstream_port

        for dev in self.attrs["devices"].values():
            sub = dev.peek("subordinate")
            if sub is None or not pcie_downstream_port(dev):
                continue
            if dev.type == "root-port" and dev.bus.self is not None:
                continue
            devs = sub.peek("devices")
            if devs:
                dev.link_state = True
                dev.link_downstream = pci_function_0(devs)

    def _booted(self, dev, bus, klist):
        if dev.spec.reset_methods is not None and not dev.spec.reset_methods:
            dev.bus_attrs = ()  # no reset method (otherwise the model device has at least one)
        dev.kn = make_nodes(dev.name, tuple(dev.type_attrs) + tuple(dev.bus_attrs))
        dev.poke("registered", True)
        dev.poke("ready_to_probe", True)
        flags = {PCI_DEV_ADDED}
        if self.version == V72:
            flags.add(PCI_DEV_ALLOW_BINDING)
        else:
            dev.poke("match_driver", True)
        dev.poke("priv_flags", frozenset(flags))
        bus.poke("devices", bus.peek("devices") + (dev,))
        klist.append(dev)

    def _bind(self, dev, name):
        drv = self.attrs["pci_drivers"][name]
        dev.poke("driver", drv)
        dev.poke("pci_driver", drv)
        dev.poke("refcount", dev.peek("refcount") + 1)  # pci_device_probe's pci_dev_get
        drv.poke("devices", drv.peek("devices") + (dev,))
        if drv.boot is not None:
            drv.boot(dev)
        boot_world = getattr(drv, "boot_world", None)  # a driver needing the machine (pcieport: pciehp)
        if boot_world is not None:
            boot_world(dev, self.attrs, self.version)

    def _boot_vfs(self, pf, spec, klist):
        for i in range(spec.num_vfs):
            rid = pf.devfn + spec.vf_offset + spec.vf_stride * i
            busnr = pf.bus.number + (rid >> 8)
            bus = pf.bus if busnr == pf.bus.number else self.find_bus(pf.bus.domain, busnr)
            if bus is None:
                bus = self.new_bus(pf.bus.domain, busnr, pf.bus, None)
                pf.bus.children.append(bus)
                bus.dev.kn = make_nodes(bus.name, ("rescan",), kind="pci_bus")
                bus.dev.poke("registered", True)
            vf = self.pci_alloc_vf(pf, i, bus, rid & 0xFF)
            self._assign_slot(vf, bus)
            slot = vf.peek("slot")
            if slot is not None and slot.peek("hotplug") is not None:
                vf.reset_methods += ("bus",)  # what pci_init_reset_methods found when the VF was added
            pf.poke("refcount", pf.peek("refcount") + 1)
            self._booted(vf, bus, klist)
            if spec.vf_driver and spec.drivers_autoprobe:
                self._bind(vf, spec.vf_driver)
        pf.sriov.poke("num_VFs", spec.num_vfs)

    def _slot(self, dev, spec):
        # the slot belongs to the port's secondary bus: the devices below get pci_dev->slot
        bus = dev.peek("subordinate")
        if bus is None or getattr(dev, "port_slot", None) is not None:  # pciehp created it at bind
            return
        slot = PciSlot(bus, spec.slot if spec.slot is not None else 0)
        self.attrs["slots"][slot.name] = slot
        dev.port_slot = slot
        for d in self.topo.devices:
            if d.parent == spec.bdf and d.present:
                child = self.attrs["devices"].get(d.bdf)
                if child is not None:
                    child.poke("slot", slot)


