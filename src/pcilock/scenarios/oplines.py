"""Operation lines (the shell commands of a ``[[thread]]``) → :class:`~pcilock.kernel.userspace.Op`.

The lines are the ones users type (``design/scenario-format.md``, "Operation
lines").  :func:`parse_op` checks each against the topology: the device, VF,
bus, slot, driver and sysfs attribute it names must exist, and its kind must
be implemented by the model (registered in ``userspace.OPS``).  Errors are
:class:`OpLineError` with a message that quotes the line; the scenario parser
adds the file and line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from pcilock.kernel.userspace import OPS, Op

DEV_ATTRS = ("remove", "rescan", "reset", "reset_method", "reset_subordinate", "sriov_numvfs",
             "sriov_drivers_autoprobe", "sriov_vf_msix_count", "sriov_vf_total_msix")
# the files the model can read with cat (their show methods)
READ_ATTRS = ("sriov_numvfs", "sriov_vf_total_msix")
READ_ONLY_ATTRS = ("sriov_vf_total_msix",)
HOTPLUG_EVENTS = ("surprise-removal", "insertion", "button")
AER_SEVERITIES = ("fatal", "nonfatal")
VFIO_ACTIONS = ("open", "close", "reset", "hot-reset")
# pci_reset_fn_methods[] names (drivers/pci/pci.c), plus the store's "default"
RESET_METHOD_WORDS = ("default", "device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus")
# kstrtobool() (lib/kstrtox.c) accepts these
_BOOL_WORDS = ("0", "1", "y", "n", "yes", "no", "on", "off", "true", "false")
# module names modprobe also accepts for a model driver (sysfs driver directories use the driver name)
_MODULE_ALIASES = {"xen-pciback": "pciback", "xen_pciback": "pciback", "vfio_pci": "vfio-pci"}

USAGE = ("operation lines are: echo V > /sys/bus/pci/devices/BDF/ATTR, echo 1 > /sys/bus/pci/rescan, "
         "echo 1 > /sys/class/pci_bus/DDDD:BB/rescan, echo BDF > /sys/bus/pci/drivers/DRIVER/bind|unbind, "
         "echo 0|1 > /sys/bus/pci/slots/N/power, "
         "cat /sys/bus/pci/devices/BDF/sriov_numvfs|sriov_vf_total_msix, modprobe [-r] DRIVER, "
         "hotplug surprise-removal|insertion|button PORT, aer fatal|nonfatal BDF, "
         "dpc PORT, eeh BDF, vfio open|close|reset|hot-reset BDF")

_BDF_RE = re.compile(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7]")
_BUS_RE = re.compile(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}")
_ECHO_RE = re.compile(r"echo\s+(?P<value>.*?)\s*>\s*(?P<path>\S+)")


class OpLineError(ValueError):
    """An operation line that cannot be parsed or names something that does not exist."""


@dataclass
class OpContext:
    """What operation lines may name: built by the scenario parser from the topology."""

    devices: dict  # bdf -> DeviceSpec (declared devices)
    vfs: dict  # VF bdf -> (PF bdf, VF index), for every VF index < total_vfs
    buses: set  # "dddd:bb" of every root bus and bridge secondary bus
    slots: dict  # slot number -> DeviceSpec of the port or bridge owning it


def parse_op(text, line, ctx):
    """The :class:`Op` of operation line *text* (at *line* of the file).

    :raises OpLineError: if the line cannot be parsed, names an unknown device,
        VF, bus, slot, driver or attribute, or its kind is not in the model
    """
    try:
        kind, args = _parse(text.strip(), ctx)
    except OpLineError as e:
        raise OpLineError(f"{text.strip()!r}: {e}") from None
    if kind not in OPS:
        raise OpLineError(f"operation not supported by the model: {text.strip()!r} "
                          f"(no {kind!r} operation is implemented yet)")
    return Op(kind, args, text.strip(), line)


def check_op_regime(op, regime):
    """A message if the model implements *op* only for other bases than *regime*'s, else None."""
    versions = OPS.get(op.kind, (None, None))[1]
    if versions is None or regime.base in versions:
        return None
    return (f"{op.text!r} is not supported by {regime.base} (the model has it for "
            f"{', '.join(sorted(versions))})")


def _parse(s, ctx):
    if not s:
        raise OpLineError("empty operation line")
    cmd = s.split(None, 1)[0]
    if cmd == "echo":
        return _echo(s, ctx)
    try:
        words = shlex.split(s)
    except ValueError as e:
        raise OpLineError(f"cannot split into words: {e}") from None
    args = words[1:]
    if cmd == "cat":
        return _cat(args, ctx)
    if cmd == "modprobe":
        return _modprobe(args)
    if cmd == "hotplug":
        ev, port = _two(args, "hotplug EVENT PORT", HOTPLUG_EVENTS, "event")
        spec = _port(port, ctx, ("root-port", "downstream-port"), "hotplug")
        if not spec.hotplug:
            raise OpLineError(f"{spec.bdf} has no hotplug slot (set hotplug = true on it)")
        return "hotplug", (ev, spec.bdf)
    if cmd == "aer":
        sev, bdf = _two(args, "aer fatal|nonfatal BDF", AER_SEVERITIES, "severity")
        bdf = _any_dev(bdf, ctx)
        if _root_port_above(bdf, ctx) is None:
            raise OpLineError(f"no root-port at or above {bdf}: AER errors are handled by the AER service "
                              "of a Root Port")
        return "aer", (sev, bdf)
    if cmd == "dpc":
        if len(args) != 1:
            raise OpLineError("expected: dpc PORT")
        spec = _port(args[0], ctx, ("root-port", "downstream-port"), "dpc")
        if not spec.dpc:
            raise OpLineError(f"{spec.bdf} has no DPC capability (set dpc = true on it)")
        return "dpc", (spec.bdf,)
    if cmd == "eeh":
        if len(args) != 1:
            raise OpLineError("expected: eeh BDF")
        return "eeh", (_any_dev(args[0], ctx),)
    if cmd == "vfio":
        action, bdf = _two(args, "vfio open|close|reset|hot-reset BDF", VFIO_ACTIONS, "action")
        bdf = _any_dev(bdf, ctx)
        spec = ctx.devices.get(bdf)
        if spec is not None and spec.is_bridge:
            raise OpLineError(f"{bdf} is {a_type(spec.type)}; vfio-pci only binds endpoints and VFs")
        return "vfio", (action, bdf)
    raise OpLineError(f"unknown command {cmd!r}; {USAGE}")


def _root_port_above(bdf, ctx):
    """The declared root-port at or above *bdf* (a VF: above its PF), or None."""
    if bdf in ctx.vfs:
        bdf = ctx.vfs[bdf][0]
    seen = set()
    spec = ctx.devices.get(bdf)
    while spec is not None and spec.bdf not in seen:
        if spec.type == "root-port":
            return spec
        seen.add(spec.bdf)
        spec = ctx.devices.get(spec.parent) if spec.parent else None
    return None


def a_type(typ):
    """*typ* with its article: "an endpoint", "a root-port"."""
    return ("an " if typ[:1] in "aeiou" else "a ") + typ


def _two(args, usage, choices, what):
    if len(args) != 2:
        raise OpLineError(f"expected: {usage}")
    if args[0] not in choices:
        raise OpLineError(f"unknown {what} {args[0]!r}; expected one of {', '.join(choices)}")
    return args[0], args[1]


def _bdf(text):
    if not _BDF_RE.fullmatch(text):
        raise OpLineError(f"bad BDF {text!r}: expected DDDD:BB:DD.F (e.g. 0000:01:00.0)")
    return text.lower()


def _any_dev(text, ctx):
    bdf = _bdf(text)
    if bdf not in ctx.devices and bdf not in ctx.vfs:
        raise OpLineError(f"unknown device {bdf}: not a declared device or a VF of one "
                          f"(declared: {', '.join(ctx.devices)})")
    return bdf


def _port(text, ctx, types, what):
    bdf = _bdf(text)
    spec = ctx.devices.get(bdf)
    if spec is None:
        raise OpLineError(f"unknown port {bdf}: not a declared device")
    if spec.type not in types:
        raise OpLineError(f"{what} needs a {' or '.join(types)}, but {bdf} is {a_type(spec.type)}")
    return spec


def _driver(name, *, module=False):
    from pcilock.kernel.model_drivers import MODEL_DRIVERS

    if name in MODEL_DRIVERS:
        return name
    alias = _MODULE_ALIASES.get(name)
    if module and alias:
        return alias
    hint = f" (the driver is called {alias})" if alias else ""
    raise OpLineError(f"unknown driver {name!r}{hint}; model drivers: {', '.join(MODEL_DRIVERS)}")


def _modprobe(args):
    remove = bool(args) and args[0] == "-r"
    rest = args[1:] if remove else args
    if not rest or rest[0].startswith("-"):
        raise OpLineError("expected: modprobe DRIVER or modprobe -r DRIVER")
    if len(rest) > 1:
        raise OpLineError("module parameters on the modprobe line are not modelled; set driver_options "
                          "on the device instead")
    name = _driver(rest[0], module=True)
    if name == "pcieport":
        raise OpLineError("pcieport is built into the kernel: modprobe cannot load or unload it")
    return ("modprobe_r" if remove else "modprobe"), (name,)


def _cat(args, ctx):
    m = re.fullmatch(r"/sys/bus/pci/devices/([^/]+)/([^/]+)", args[0]) if len(args) == 1 else None
    if m is None or m.group(2) not in READ_ATTRS:
        raise OpLineError("the only file the model reads is a PF's /sys/bus/pci/devices/BDF/"
                          + " or .../".join(READ_ATTRS))
    bdf = _dev_attr(m.group(1), m.group(2), ctx)
    return "dev_attr_read", (bdf, m.group(2))


def _echo(s, ctx):
    m = _ECHO_RE.fullmatch(s)
    if m is None:
        raise OpLineError("expected: echo VALUE > /sys/...")
    try:
        words = shlex.split(m.group("value"))
        path = shlex.split(m.group("path"))
    except ValueError as e:
        raise OpLineError(f"cannot split into words: {e}") from None
    if words[:1] == ["-n"]:
        words = words[1:]
    value = " ".join(words)
    path = path[0] if len(path) == 1 else m.group("path")
    if path == "/sys/bus/pci/rescan":
        return "bus_rescan", (_number(value, "rescan"),)
    if (d := re.fullmatch(r"/sys/bus/pci/devices/([^/]+)/([^/]+)", path)) is not None:
        return _dev_write(d.group(1), d.group(2), value, ctx)
    if re.fullmatch(r"/sys/bus/pci/devices/[^/]+/driver/(un)?bind", path):
        raise OpLineError("the driver of a device is not known statically; write to "
                          "/sys/bus/pci/drivers/DRIVER/unbind (or bind) instead")
    if (d := re.fullmatch(r"/sys/class/pci_bus/([^/]+)/rescan", path)) is not None:
        bus = d.group(1).lower()
        if not _BUS_RE.fullmatch(bus):
            raise OpLineError(f"bad bus {d.group(1)!r}: expected DDDD:BB (e.g. 0000:01)")
        if bus not in ctx.buses:
            raise OpLineError(f"no bus {bus}: not a root bus or a bridge's secondary bus "
                              f"(buses: {', '.join(sorted(ctx.buses))})")
        return "class_bus_rescan", (bus, _number(value, "rescan"))
    if (d := re.fullmatch(r"/sys/bus/pci/drivers/([^/]+)/(bind|unbind)", path)) is not None:
        drv = _driver(d.group(1))
        return f"driver_{d.group(2)}", (drv, _any_dev(value, ctx))
    if (d := re.fullmatch(r"/sys/bus/pci/slots/([^/]+)/power", path)) is not None:
        return _slot_power(d.group(1), value, ctx)
    raise OpLineError(f"unknown sysfs file {path}; {USAGE}")


def _number(value, attr):
    if not re.fullmatch(r"\d+", value):
        raise OpLineError(f"{attr} takes a number, not {value!r}")
    return value


def _dev_attr(text, attr, ctx):
    bdf = _any_dev(text, ctx)
    spec = ctx.devices.get(bdf)
    if attr not in DEV_ATTRS:
        raise OpLineError(f"unknown attribute {attr!r}; the model has {', '.join(DEV_ATTRS)}")
    if attr in ("remove", "rescan") and spec is None:
        pf, i = ctx.vfs[bdf]
        raise OpLineError(f"{bdf} is VF {i} of {pf} and VFs have no {attr} attribute "
                          f"(their PF's sriov_numvfs adds and removes them)")
    if attr == "sriov_vf_msix_count":
        if spec is not None:
            raise OpLineError(f"{bdf} has no {attr} attribute: only VFs have it (write it on a VF of an "
                              "SR-IOV PF)")
    elif attr.startswith("sriov_") and (spec is None or not spec.total_vfs):
        raise OpLineError(f"{bdf} has no {attr} attribute: it is not an SR-IOV PF (no sriov table)")
    if attr == "reset_subordinate" and (spec is None or not spec.is_bridge):
        raise OpLineError(f"{bdf} has no reset_subordinate attribute: only ports and bridges have it")
    return bdf


def _dev_write(text, attr, value, ctx):
    bdf = _dev_attr(text, attr, ctx)
    if attr in READ_ONLY_ATTRS:
        raise OpLineError(f"{attr} is read-only; read it with cat")
    if attr == "reset_method":
        for w in value.split():
            if w not in RESET_METHOD_WORDS:
                raise OpLineError(f"unknown reset method {w!r}; methods: {', '.join(RESET_METHOD_WORDS)}")
    elif attr == "sriov_drivers_autoprobe":
        if value.lower() not in _BOOL_WORDS:
            raise OpLineError(f"sriov_drivers_autoprobe takes a boolean (0 or 1), not {value!r}")
    else:
        _number(value, attr)
    return "dev_attr_write", (bdf, attr, value)


def _slot_power(name, value, ctx):
    if not re.fullmatch(r"\d+", name) or int(name) not in ctx.slots:
        known = ", ".join(str(n) for n in sorted(ctx.slots)) or "none"
        raise OpLineError(f"no slot {name!r}: not the slot number of a declared port (slots: {known})")
    spec = ctx.slots[int(name)]
    if not spec.hotplug:
        raise OpLineError(f"slot {name} of {spec.bdf} has no power file: it is not a hotplug slot "
                          "(set hotplug = true on the port)")
    if value not in ("0", "1"):
        raise OpLineError(f"slot power takes 0 or 1, not {value!r}")
    return "slot_power", (int(name), value)
