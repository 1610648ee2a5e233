"""The scenario lines that act on a hotplug slot: the hardware and the slot's ``power`` file.

Not a kernel file.  ``hotplug surprise-removal PORT``: the card is pulled:
every function below PORT stops answering config reads (their buses' config
space, ``W.hw``, loses them; hotplug ports on the card no longer answer:
``gone``), Presence Detect State and Data Link Layer Link Active drop, the
port latches PDC and DLLSC and, if those events are enabled, sends its MSI:
the hard IRQ and then pciehp's IRQ thread run in model threads of their own
(:mod:`pcilock.kernel.kernel.irq.manage`); the scenario thread only plays
the hardware.  ``hotplug insertion PORT``: the devices of the topology below
PORT (those declared ``present = false`` and those pulled earlier) answer
again; hotplug ports on the card come up with their registers reset
(notifications disabled, no events latched, the slot occupied if the card
has a function below it); then PORT's presence and link come up.  Every
change of the config space is a step on the bus's
:class:`~pcilock.kernel.world.ConfigSpace`, so the IRQ thread's scan and a
later event on the same slot are explored in both orders.  The hardware is
found by address (``W.slot_hw``), so PORT may be a port enumerated at run
time, or not enumerated at all (its events are then latched, not signalled).
``hotplug button PORT``: the Attention
Button of a slot declared with ``attention_button = true`` is pressed: the
port latches ABP and sends its MSI if ABPE is enabled; pciehp's IRQ thread
then runs ``pciehp_handle_button_press``, which starts (or cancels) the
5-second ``button_work``, whose kworker requests the disable or enable.  On a
slot without a button the press changes nothing (returns -ENODEV).

``echo 0|1 > /sys/bus/pci/slots/N/power``: ``kernfs_fop_write_iter`` on the
slot's ``power`` node → ``pci_slot_attr_store`` → ``power_write_file``.
"""

from __future__ import annotations

from pcilock._engine_imports import note, read, rmw
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.userspace import op

from .pciehp import SLTSTA_ABP, hw_event, hw_link_change

ENODEV, ENOENT = -19, -2


def _below(port_bdf):
    """DeviceSpecs of every function below *port_bdf* (the card and what sits behind it)."""
    topo = W.topology
    out = []
    parents = {port_bdf}
    changed = True
    while changed:
        changed = False
        for d in topo.devices:
            if d.parent in parents and d.bdf not in parents:
                parents.add(d.bdf)
                out.append(d)
                changed = True
    return out


def _by_bus(specs):
    """*specs* grouped by bus, in topology order: [((domain, bus), [spec, ...]), ...]."""
    out = []
    for spec in specs:
        key = (spec.domain, spec.bus)
        for k, group in out:
            if k == key:
                group.append(spec)
                break
        else:
            out.append((key, [spec]))
    return out


def _surprise_removal(port_bdf, hw):
    below = _below(port_bdf)
    for (domain, bus), specs in _by_bus(below):
        yield rmw(W.config_space(domain, bus), "fns", _remove_fns(specs))
    for spec in below:
        sub_hw = W.slot_hw.get(spec.bdf)
        if sub_hw is not None:
            yield rmw(sub_hw, "gone", lambda _: True)
    yield from hw_link_change(hw, False, False)


def _remove_fns(specs):
    gone = {s.devfn for s in specs}
    return lambda fns: tuple(f for f in fns if f[0] not in gone)


def _add_fns(specs):
    def f(fns):
        devfns = {d for d, _ in fns}
        added = tuple((s.devfn, s) for s in specs if s.devfn not in devfns)
        return tuple(sorted(fns + added, key=lambda x: x[0]))

    return f


def _insertion(port_bdf, hw):
    below = _below(port_bdf)
    for (domain, bus), specs in _by_bus(below):
        yield rmw(W.config_space(domain, bus), "fns", _add_fns(specs))
    for spec in below:
        sub_hw = W.slot_hw.get(spec.bdf)
        if sub_hw is not None:  # a hotplug port on the card: powered up, registers at their reset values
            occupied = any(d.parent == spec.bdf for d in below)
            yield rmw(sub_hw, "sltctl", lambda _: 0)
            yield rmw(sub_hw, "sltsta", lambda _: 0)
            yield rmw(sub_hw, "presence", lambda _, o=occupied: o)
            yield rmw(sub_hw, "link_active", lambda _, o=occupied: o)
            yield rmw(sub_hw, "gone", lambda _: False)
    yield from hw_link_change(hw, True, True)


@op("hotplug")
def hotplug_event(event, port_bdf):
    hw = W.slot_hw.get(port_bdf)
    if hw is None or (yield read(hw, "gone", marked=True)):
        yield note(f"{port_bdf}: no hotplug port answers")
        return ENODEV
    if event == "surprise-removal":
        yield from _surprise_removal(port_bdf, hw)
        return 0
    if event == "insertion":
        yield from _insertion(port_bdf, hw)
        return 0
    if hw.attn_button:
        yield from hw_event(hw, SLTSTA_ABP)
        return 0
    yield note(f"{port_bdf}: the slot has no attention button")
    return ENODEV


@mirrors("drivers/pci/slot.c", note="sysfs_ops.store of /sys/bus/pci/slots/N/*", v61=26, v612=26, v72=25)
def pci_slot_attr_store(slot, attr, buf):
    if attr == "power":
        return (yield from K.power_write_file(slot, buf))
    return -5


@op("slot_power")
def slot_power(number, value):
    slot = W.slots.get(str(number))
    if slot is None:
        return ENOENT
    hs = yield read(slot, "hotplug")
    if hs is None or "power" not in hs.kn:
        return ENOENT
    return (yield from K.kernfs_fop_write_iter(hs.kn["power"],
                                               lambda buf: K.pci_slot_attr_store(slot, "power", buf), value))
