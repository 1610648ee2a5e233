"""Turning a scenario and a regime into an engine program.

Per execution, the setup builds a fresh :class:`~pcilock.kernel.world.World`,
activates the regime's function table and starts one model thread per
scenario thread, running its operation lines in order.
"""

from __future__ import annotations

from pcilock.engine import Program, Setup, ThreadSpec
from pcilock.engine.objects import Mutex
from pcilock.kernel import load_all
from pcilock.kernel._model import activate
from pcilock.kernel.checks import final_checks
from pcilock.kernel.model_drivers import factory
from pcilock.kernel.userspace import run, thread_start
from pcilock.kernel.world import World
from pcilock.patches import PATCHES, build_table


def drivers_used(topology, threads):
    """Model drivers a scenario needs, in a stable order (first use)."""
    names = []

    def add(n):
        if n and n not in names:
            names.append(n)

    for spec in topology.devices:
        if spec.type in ("root-port", "upstream-port", "downstream-port"):
            add("pcieport")
    for spec in topology.devices:
        add(spec.driver)
        add(spec.vf_driver)
    for t in threads:
        for o in t.ops:
            if o.kind in ("modprobe", "modprobe_r", "driver_bind", "driver_unbind"):
                add(o.args[0])
    return names


def loaded_at_boot(topology):
    names = set()
    for spec in topology.devices:
        if spec.type in ("root-port", "upstream-port", "downstream-port"):
            names.add("pcieport")
        if spec.driver:
            names.add(spec.driver)
        if spec.vf_driver:
            names.add(spec.vf_driver)
    return names


def thread_body(ops, repeat, name=None):
    def body():
        yield from thread_start(name)
        for _ in range(repeat):
            for o in ops:
                yield from run(o)

    return body


def make_program(scenario, regime, overrides=None):
    """The engine :class:`Program` checking *scenario* under *regime*.

    ``overrides`` (``{name: function}``) replaces table entries after the
    regime is built: tests use it to remove one lock acquisition and show the
    verdict depends on it.
    """
    load_all()
    table, present, _ = build_table(regime)
    if overrides:
        table = dict(table)
        table.update(overrides)
    topo = scenario.topology
    names = drivers_used(topo, scenario.threads)
    factories = {n: factory(n) for n in names}
    boot = loaded_at_boot(topo)

    def setup():
        world = World(topo, regime.base, factories)
        world.attrs["rtnl_mutex"] = Mutex("rtnl_mutex")
        world.attrs["patches"] = frozenset(present)
        attrs = world.build()
        for pid in sorted(present):
            init = getattr(PATCHES[pid], "world_init", None)
            if init is not None:
                init(attrs)
        for n, drv in attrs["pci_drivers"].items():
            if n in boot:
                drv.poke("registered", True)
        attrs["pci_bus_type"].poke("drivers", tuple(d for n, d in attrs["pci_drivers"].items() if n in boot))
        activate(table, attrs)
        threads = [ThreadSpec(t.name, thread_body(t.ops, t.repeat, t.name)) for t in scenario.threads]
        return Setup(threads=threads, world=world)

    return Program(setup, name=f"{scenario.id}@{regime}", final_checks=final_checks,
                   meta={"scenario": scenario.id, "regime": str(regime)})
