"""Scenario files (TOML) → :class:`~pcilock.scenarios.model.Scenario`.

The contract is ``design/scenario-format.md``.  Every input error is a
:class:`ScenarioError` whose ``str()`` is one line, ``PATH:LINE: message``:
the TOML syntax, every key at every level, the topology (addresses, parents,
bus numbers, SR-IOV, slots), each operation line, and each ``[expect]`` regime
and verdict.  ``tomllib`` gives values without positions, so
:class:`~pcilock.scenarios._lines.Lines` re-scans the text once to find the
line of each key, table and array element; a semantic error is reported at the
most specific of those that exists.  Operation lines are parsed by
:mod:`pcilock.scenarios.oplines`.

Checks run section by section (each device, the topology as a whole, the
threads, ``[expect]``, ``[check]``) and the first failure is reported.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pcilock.kernel.world import DeviceSpec, Topology

from ._lines import Lines
from .model import Scenario, ThreadDecl
from .oplines import OpContext, OpLineError, a_type, check_op_regime, parse_op

VERDICTS = ("ok", "deadlock", "hang", "race", "uaf", "warn", "inconclusive", "model-error")
TYPES = ("endpoint", "root-port", "upstream-port", "downstream-port", "pci-bridge")
PORTS = ("root-port", "upstream-port", "downstream-port")
# pci_reset_fn_methods[] (drivers/pci/pci.c), in the kernel's order
RESET_METHODS = ("device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus")
# driver_options each model driver reads (pdev.spec.driver_options)
DRIVER_OPTIONS = {"igb": ("max_vfs",), "vfio-pci": ("open_by",), "mlx5_core": ("switchdev",)}
# driver options whose value names a [[thread]] (the others are non-negative integers)
THREAD_OPTIONS = ("open_by",)

TOP_KEYS = ("id", "title", "links", "notes", "device", "thread", "expect", "check")
DEVICE_KEYS = ("bdf", "type", "parent", "hotplug", "attention_button", "dpc", "slot", "driver",
               "driver_options", "sriov", "vf_driver", "numa_node", "reset_methods", "present")
SRIOV_KEYS = ("total_vfs", "num_vfs", "drivers_autoprobe", "offset", "stride")
THREAD_KEYS = ("name", "run", "repeat")
CHECK_KEYS = ("strategy", "budget", "executions", "seed", "max_steps", "all")

_ID_RE = re.compile(r"[a-z0-9.-]+")
_THREAD_RE = re.compile(r"[A-Za-z0-9_.-]+")
_BDF_RE = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([01][0-9a-fA-F])\.([0-7])")
_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")


class ScenarioError(ValueError):
    """A bad scenario file: ``str()`` is one line, ``PATH:LINE: message`` (``PATH: message`` for line 0)."""

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = int(line or 0)
        self.message = " ".join(str(message).split())  # always one line
        super().__init__(str(self))

    def __str__(self):
        if self.line:
            return f"{self.path}:{self.line}: {self.message}"
        return f"{self.path}: {self.message}"


def norm_bdf(text):
    """The lower-case ``dddd:bb:dd.f`` form of *text*, or None if it is not a BDF."""
    if not isinstance(text, str) or not _BDF_RE.fullmatch(text.strip()):
        return None
    return text.strip().lower()


BDF_FORMAT = "expected DDDD:BB:DD.F in hex, device 00-1f, function 0-7 (e.g. 0000:01:00.0)"


def load_scenario(path_or_id):
    """Parse a scenario file, or the catalogue scenario with that id.

    :param path_or_id: a path to a ``.toml`` file or a catalogue id
    :return: :class:`Scenario`
    :raises ScenarioError: on any input error
    """
    from .catalogue import resolve

    return parse_scenario_file(resolve(path_or_id))


def parse_scenario_file(path):
    """Read and parse the scenario file *path* (no catalogue lookup)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ScenarioError(path, 0, f"cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ScenarioError(path, line, "not UTF-8 text") from None
    return parse_scenario_text(text, path)


def parse_scenario_text(text, path):
    """Parse scenario TOML *text*; *path* names it in errors and sets the default id.

    :return: :class:`Scenario`
    :raises ScenarioError: on any input error
    """
    from pcilock.kernel import load_all

    load_all()  # fills userspace.OPS
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _syntax_error(path, text, str(e)) from None
    return _Parser(text, path).scenario(doc)


def check_regime(scenario, regime):
    """Reject operation lines of *scenario* the model does not support under *regime*.

    :param regime: a :class:`~pcilock.patches.Regime`
    :raises ScenarioError: naming the first such line
    """
    for t in scenario.threads:
        for o in t.ops:
            problem = check_op_regime(o, regime)
            if problem:
                raise ScenarioError(scenario.path or scenario.id, o.line, problem)


def _syntax_error(path, text, msg):
    m = _TOML_POS_RE.search(msg)
    line, where = 0, ""
    if m and m.group(1):
        line, where = int(m.group(1)), f" (column {m.group(2)})"
    elif m:
        line, where = text.count("\n") + 1, " (at end of file)"
    body = msg[: m.start()] if m else msg
    return ScenarioError(path, line, f"invalid TOML: {body[:1].lower()}{body[1:]}{where}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _listing(names):
    return ", ".join(names)


def _shown(value):
    """*value* as written in TOML (for messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class _Parser:
    def __init__(self, text, path):
        self.path = str(path)
        self.lines = Lines(text)

    def err(self, where, message):
        raise ScenarioError(self.path, self.lines.line(*where), message)

    def keys(self, table, where, known, what):
        for k in table:
            if k not in known:
                self.err(where + (k,), f"unknown key {k!r} in {what}; known keys: {_listing(known)}")

    def want(self, value, where, kind, what):
        ok = {"str": isinstance(value, str), "bool": isinstance(value, bool), "int": _is_int(value),
              "table": isinstance(value, dict), "list": isinstance(value, list)}[kind]
        if not ok:
            names = {"str": "a string", "bool": "true or false", "int": "an integer",
                     "table": "a table", "list": "an array"}
            self.err(where, f"{what} must be {names[kind]}, not {_shown(value)}")
        return value

    # -- the document ------------------------------------------------------
    def scenario(self, doc):
        self.keys(doc, (), TOP_KEYS, "the scenario (top level)")
        sid = self.scenario_id(doc)
        title = self.want(doc.get("title", ""), ("title",), "str", "title")
        links = self.want(doc.get("links", []), ("links",), "list", "links")
        for i, link in enumerate(links):
            self.want(link, ("links", i), "str", "each of links")
        notes = self.want(doc.get("notes", ""), ("notes",), "str", "notes")
        topo, ctx = self.topology(doc)
        threads = self.threads(doc, ctx)
        self.thread_options(topo, threads)
        expect, expect_lines = self.expect(doc, threads)
        options = self.check_options(doc)
        return Scenario(id=sid, title=title, links=list(links), topology=topo, threads=threads,
                        expect=expect, expect_lines=expect_lines, path=self.path, options=options,
                        notes=notes)

    def scenario_id(self, doc):
        if "id" in doc:
            sid = self.want(doc["id"], ("id",), "str", "id")
            if not _ID_RE.fullmatch(sid):
                self.err(("id",), f"id {sid!r} must match [a-z0-9.-]+")
            return sid
        sid = Path(self.path).name.removesuffix(".toml")
        if not _ID_RE.fullmatch(sid):
            self.err((), f"scenario id {sid!r} (the file name without .toml) must match [a-z0-9.-]+; "
                         "rename the file or set id = \"...\"")
        return sid

    # -- topology ----------------------------------------------------------
    def topology(self, doc):
        tables = doc.get("device", [])
        if isinstance(tables, dict):
            self.err(("device",), "devices are an array of tables: write [[device]], not [device]")
        self.want(tables, ("device",), "list", "device")
        specs, where = [], {}
        for n, t in enumerate(tables):
            w = ("device", n)
            self.want(t, w, "table", "each device")
            spec = self.device(t, w)
            if spec.bdf in where:
                self.err(w + ("bdf",), f"duplicate device {spec.bdf} (also at line "
                                       f"{self.lines.line(*where[spec.bdf], 'bdf')})")
            where[spec.bdf] = w
            specs.append(spec)
        if not specs:
            self.err((), "no [[device]]: a scenario needs a topology")
        self.device_where = where
        by_bdf = {s.bdf: s for s in specs}
        for s in specs:
            self.check_parent(s, by_bdf, where)
        for s in specs:
            self.check_cycle(s, by_bdf, where)
        for s in specs:
            self.check_placement(s, by_bdf, where)
        child_bus = self.bus_numbers(specs, where)
        slots = {}
        for s in specs:
            if s.slot is not None:
                if s.slot in slots:
                    self.err(where[s.bdf] + ("slot",),
                             f"slot {s.slot} is also the slot of {slots[s.slot].bdf}")
                slots[s.slot] = s
        vfs = self.vf_addresses(specs, where, child_bus)
        topo = Topology(_parents_first(specs, by_bdf), child_bus=child_bus)
        buses = {f"{s.domain:04x}:{s.bus:02x}" for s in specs if s.parent is None}
        buses |= {f"{by_bdf[b].domain:04x}:{n:02x}" for b, n in child_bus.items()}
        buses |= {vf[:7] for vf in vfs}  # virtual buses of VFs whose routing IDs leave the PF's bus
        return topo, OpContext(by_bdf, vfs, buses, slots)

    def device(self, t, w):
        self.keys(t, w, DEVICE_KEYS, "[[device]]")
        if "bdf" not in t:
            self.err(w, "[[device]] without bdf")
        bdf = norm_bdf(self.want(t["bdf"], w + ("bdf",), "str", "bdf"))
        if bdf is None:
            self.err(w + ("bdf",), f"bad BDF {t['bdf']!r}: {BDF_FORMAT}")
        typ = self.want(t.get("type", "endpoint"), w + ("type",), "str", "type")
        if typ not in TYPES:
            self.err(w + ("type",), f"unknown type {typ!r}; types: {_listing(TYPES)}")
        spec = DeviceSpec(bdf=bdf, type=typ)
        if "parent" in t:
            spec.parent = norm_bdf(self.want(t["parent"], w + ("parent",), "str", "parent"))
            if spec.parent is None:
                self.err(w + ("parent",), f"bad parent BDF {t['parent']!r}: {BDF_FORMAT}")
        spec.hotplug = self.want(t.get("hotplug", False), w + ("hotplug",), "bool", "hotplug")
        if spec.hotplug and typ not in ("root-port", "downstream-port"):
            self.err(w + ("hotplug",), f"hotplug = true on {a_type(typ)}: only a root-port or "
                                       "downstream-port has a hotplug slot")
        spec.attention_button = self.want(t.get("attention_button", False), w + ("attention_button",), "bool",
                                          "attention_button")
        if spec.attention_button and not spec.hotplug:
            self.err(w + ("attention_button",), "attention_button = true without hotplug = true: the "
                                                "button belongs to a hotplug slot")
        spec.dpc = self.want(t.get("dpc", False), w + ("dpc",), "bool", "dpc")
        if spec.dpc and typ not in ("root-port", "downstream-port"):
            self.err(w + ("dpc",), f"dpc = true on {a_type(typ)}: only a root-port or downstream-port "
                                   "has Downstream Port Containment")
        if "slot" in t:
            spec.slot = self.want(t["slot"], w + ("slot",), "int", "slot")
            if spec.slot < 0:
                self.err(w + ("slot",), f"slot must be a non-negative integer, not {spec.slot}")
            if typ not in ("root-port", "downstream-port", "pci-bridge"):
                self.err(w + ("slot",),
                         f"slot on {a_type(typ)}: a slot belongs to the port or bridge above it")
        spec.present = self.want(t.get("present", True), w + ("present",), "bool", "present")
        spec.numa_node = self.want(t.get("numa_node", -1), w + ("numa_node",), "int", "numa_node")
        if spec.numa_node < -1:
            self.err(w + ("numa_node",),
                     f"numa_node must be -1 (none) or a node number, not {spec.numa_node}")
        if "reset_methods" in t:
            spec.reset_methods = self.reset_methods(t["reset_methods"], w + ("reset_methods",))
        if "sriov" in t:
            self.sriov(spec, t["sriov"], w + ("sriov",))
        if "driver" in t:
            spec.driver = self.driver(t["driver"], w + ("driver",), spec, "driver")
        if "vf_driver" in t:
            if not spec.total_vfs:
                self.err(w + ("vf_driver",), "vf_driver without sriov: only an SR-IOV PF has VFs")
            spec.vf_driver = self.driver(t["vf_driver"], w + ("vf_driver",), None, "vf_driver")
        if "driver_options" in t:
            spec.driver_options = self.driver_options(t["driver_options"], w + ("driver_options",), spec)
        return spec

    def reset_methods(self, value, w):
        self.want(value, w, "list", "reset_methods")
        for i, m in enumerate(value):
            if m not in RESET_METHODS:
                self.err(w + (i,), f"unknown reset method {m!r}; methods: {_listing(RESET_METHODS)}")
            if m in value[:i]:
                self.err(w + (i,), f"reset method {m!r} listed twice")
        return tuple(value)

    def sriov(self, spec, value, w):
        self.want(value, w, "table", "sriov")
        self.keys(value, w, SRIOV_KEYS, "sriov")
        if spec.is_bridge:
            self.err(w, f"sriov on {a_type(spec.type)}: only an endpoint can be an SR-IOV PF")
        if "total_vfs" not in value:
            self.err(w, "sriov needs total_vfs")
        for k in ("total_vfs", "num_vfs", "offset", "stride"):
            if k in value and self.want(value[k], w + (k,), "int", f"sriov.{k}") < 0:
                self.err(w + (k,), f"sriov.{k} must not be negative")
        spec.total_vfs = value["total_vfs"]
        spec.num_vfs = value.get("num_vfs", 0)
        spec.vf_offset = value.get("offset", 1)
        spec.vf_stride = value.get("stride", 1)
        spec.drivers_autoprobe = self.want(value.get("drivers_autoprobe", True), w + ("drivers_autoprobe",),
                                           "bool", "sriov.drivers_autoprobe")
        if spec.total_vfs < 1:
            self.err(w + ("total_vfs",), "sriov.total_vfs must be at least 1")
        if spec.num_vfs > spec.total_vfs:
            self.err(w + ("num_vfs",), f"num_vfs = {spec.num_vfs} > total_vfs = {spec.total_vfs}")
        if spec.vf_offset < 1:
            self.err(w + ("offset",), "sriov.offset must be at least 1 (a VF is never at the PF's address)")
        if spec.vf_stride < 1 and spec.total_vfs > 1:
            self.err(w + ("stride",), "sriov.stride must be at least 1 when there are several VFs")

    def driver(self, value, w, spec, what):
        from pcilock.kernel.model_drivers import MODEL_DRIVERS

        name = self.want(value, w, "str", what)
        if name not in MODEL_DRIVERS:
            self.err(w, f"unknown driver {name!r}; model drivers: {_listing(MODEL_DRIVERS)}")
        if name == "pcieport" and (spec is None or spec.type not in PORTS):
            on = "VFs" if spec is None else a_type(spec.type)
            self.err(w, f"pcieport does not bind to {on}: it drives PCIe ports only")
        return name

    def driver_options(self, value, w, spec):
        self.want(value, w, "table", "driver_options")
        known = DRIVER_OPTIONS.get(spec.driver, ()) if spec.driver else sorted(
            {o for opts in DRIVER_OPTIONS.values() for o in opts})
        described = "; ".join(f"{d}: {_listing(o)}" for d, o in DRIVER_OPTIONS.items())
        for k, v in value.items():
            if k not in known:
                whose = f"driver {spec.driver!r} has" if spec.driver else "the model drivers have"
                self.err(w + (k,), f"unknown driver option {k!r}: {whose} no such option "
                                   f"(driver options: {described})")
            if k in THREAD_OPTIONS:
                self.want(v, w + (k,), "str", f"driver option {k} (a thread name)")
            elif not _is_int(v) or v < 0:
                self.err(w + (k,), f"driver option {k} must be a non-negative integer, not {v!r}")
        return dict(value)

    def thread_options(self, topo, threads):
        """Driver options naming a thread must name a [[thread]] of the scenario."""
        names = [t.name for t in threads]
        for spec in topo.devices:
            for k in THREAD_OPTIONS:
                v = spec.driver_options.get(k)
                if v is not None and v not in names:
                    self.err(self.device_where[spec.bdf] + ("driver_options", k),
                             f"driver option {k} = {v!r} names no [[thread]] (threads: {_listing(names)})")

    def check_parent(self, s, by_bdf, where):
        w = where[s.bdf] + ("parent",)
        if s.parent is not None:
            if s.parent == s.bdf:
                self.err(w, f"{s.bdf} is its own parent")
            p = by_bdf.get(s.parent)
            if p is None:
                self.err(w, f"parent {s.parent} is not a declared device")
            if not p.is_bridge:
                self.err(w, f"parent {s.parent} is an endpoint; only ports and bridges have devices "
                            "below them")
            if p.domain != s.domain:
                self.err(w, f"parent {s.parent} is in another PCI domain than {s.bdf}")
        ptype = by_bdf[s.parent].type if s.parent else None
        if s.type == "root-port" and ptype:
            self.err(w, "a root-port sits on a root bus: it has no parent")
        if s.type == "downstream-port" and ptype != "upstream-port":
            self.err(w if ptype else where[s.bdf] + ("type",),
                     "a downstream-port sits below an upstream-port (its parent)"
                     + (f", but {s.parent} is {a_type(ptype)}" if ptype else ""))
        if s.type == "upstream-port" and ptype not in ("root-port", "downstream-port"):
            self.err(w if ptype else where[s.bdf] + ("type",),
                     "an upstream-port sits below a root-port or downstream-port (its parent)"
                     + (f", but {s.parent} is {a_type(ptype)}" if ptype else ""))
        if ptype == "upstream-port" and s.type != "downstream-port":
            self.err(w, f"below upstream-port {s.parent} only downstream-ports can sit, not {a_type(s.type)}")

    def check_cycle(self, s, by_bdf, where):
        seen = [s.bdf]
        p = s.parent
        while p is not None:
            if p in seen:
                chain = " → ".join(seen[seen.index(p):] + [p])
                self.err(where[s.bdf] + ("parent",), f"cycle in parent: {chain}")
            seen.append(p)
            p = by_bdf[p].parent

    def check_placement(self, s, by_bdf, where):
        if s.parent and s.present and not by_bdf[s.parent].present:
            self.err(where[s.bdf] + ("present",),
                     f"{s.bdf} is present but its parent {s.parent} is not (set present = false on it too)")

    def bus_numbers(self, specs, where):
        """Each bridge's secondary bus: the bus of its children, else the first free one above it."""
        child_bus, first_child = {}, {}
        for s in specs:
            if s.parent is None:
                continue
            p = next(x for x in specs if x.bdf == s.parent)
            if s.parent not in child_bus:
                if s.bus <= p.bus:
                    self.err(where[s.bdf] + ("bdf",), f"{s.bdf} is on bus {s.bus:02x}, but its parent "
                                                      f"{p.bdf} is on bus {p.bus:02x}: the devices below a "
                                                      "bridge are on its secondary bus, numbered above "
                                                      "the bridge's own")
                child_bus[s.parent], first_child[s.parent] = s.bus, s.bdf
            elif child_bus[s.parent] != s.bus:
                self.err(where[s.bdf] + ("bdf",),
                         f"{s.bdf} is on bus {s.bus:02x}, but {first_child[s.parent]} below the same "
                         f"bridge {s.parent} is on bus {child_bus[s.parent]:02x}: a bridge has one "
                         "secondary bus")
        owner = {}
        for b, n in child_bus.items():
            key = (b[:4], n)
            if key in owner:
                self.err(where[first_child[b]] + ("bdf",),
                         f"bus {n:02x} is already the secondary bus of {owner[key]}, so it cannot also "
                         f"be that of {b}")
            owner[key] = b
        for s in specs:
            if s.parent is None and (s.bdf[:4], s.bus) in owner:
                b = owner[(s.bdf[:4], s.bus)]
                self.err(where[s.bdf] + ("bdf",), f"{s.bdf} is on bus {s.bus:02x}, the secondary bus of "
                                                  f"{b}: set parent = \"{b}\"")
        used = {(s.bdf[:4], s.bus) for s in specs} | set(owner)
        used |= {(s.bdf[:4], s.bus + ((s.devfn + s.vf_offset + s.vf_stride * i) >> 8))
                 for s in specs for i in range(s.total_vfs)}
        for s in specs:
            if s.is_bridge and s.bdf not in child_bus:
                n = next((n for n in range(s.bus + 1, 256) if (s.bdf[:4], n) not in used), None)
                if n is None:
                    self.err(where[s.bdf] + ("bdf",), f"no free bus number above {s.bus:02x} for the "
                                                      f"secondary bus of {s.bdf}")
                child_bus[s.bdf] = n
                used.add((s.bdf[:4], n))
        return child_bus

    def vf_addresses(self, specs, where, child_bus):
        """VF BDF → (PF BDF, VF index) for every possible VF (i < total_vfs)."""
        declared = {s.bdf for s in specs}
        busy = {(s.bdf[:4], s.bus) for s in specs if s.parent is None}
        busy |= {(b[:4], n) for b, n in child_bus.items()}
        vfs = {}
        probe = Topology([])
        for s in specs:
            w = where[s.bdf] + ("sriov",)
            for i in range(s.total_vfs):
                rid_bus = s.bus + ((s.devfn + s.vf_offset + s.vf_stride * i) >> 8)
                if rid_bus > 255:
                    self.err(w, f"VF {i} of {s.bdf} would be beyond bus ff (offset/stride too large)")
                vf = probe.vf_bdf(s, i)
                if vf in declared:
                    self.err(w, f"VF {i} of {s.bdf} would be at {vf}, which is declared as a device")
                if vf in vfs:
                    self.err(w, f"VF {i} of {s.bdf} would be at {vf}, which is also VF {vfs[vf][1]} of "
                                f"{vfs[vf][0]}")
                if rid_bus != s.bus and (s.bdf[:4], rid_bus) in busy:
                    self.err(w, f"VF {i} of {s.bdf} would be on bus {rid_bus:02x}, which is in use")
                vfs[vf] = (s.bdf, i)
        return vfs

    # -- threads -------------------------------------------------------------
    def threads(self, doc, ctx):
        tables = doc.get("thread", [])
        if isinstance(tables, dict):
            self.err(("thread",), "threads are an array of tables: write [[thread]], not [thread]")
        self.want(tables, ("thread",), "list", "thread")
        if not tables:
            self.err((), "no [[thread]]: a scenario needs at least one thread with run = [...]")
        out, names = [], {}
        for n, t in enumerate(tables):
            w = ("thread", n)
            self.want(t, w, "table", "each thread")
            self.keys(t, w, THREAD_KEYS, "[[thread]]")
            name = self.want(t.get("name", f"t{n}"), w + ("name",), "str", "name")
            if not _THREAD_RE.fullmatch(name):
                self.err(w + ("name",), f"thread name {name!r} must match [A-Za-z0-9_.-]+")
            if name in names:
                self.err(w + ("name",), f"duplicate thread name {name!r} (thread {names[name] + 1} is "
                                        "already called that)")
            names[name] = n
            repeat = self.want(t.get("repeat", 1), w + ("repeat",), "int", "repeat")
            if repeat < 1:
                self.err(w + ("repeat",), f"repeat must be a positive integer, not {repeat}")
            if "run" not in t:
                self.err(w, "[[thread]] without run = [...] (its operation lines)")
            run = self.want(t["run"], w + ("run",), "list", "run")
            if not run:
                self.err(w + ("run",), "run is empty: give at least one operation line")
            ops = []
            for i, text in enumerate(run):
                self.want(text, w + ("run", i), "str", "each operation line")
                line = self.lines.line(*w, "run", i)
                try:
                    ops.append(parse_op(text, line, ctx))
                except OpLineError as e:
                    raise ScenarioError(self.path, line, str(e)) from None
            out.append(ThreadDecl(name, ops, repeat=repeat, line=self.lines.line(*w)))
        return out

    # -- [expect] and [check] -----------------------------------------------
    def expect(self, doc, threads):
        from pcilock.patches import RegimeError, build_table, parse_regime

        table = self.want(doc.get("expect", {}), ("expect",), "table", "[expect]")
        expect, lines = {}, {}
        for key, value in table.items():
            w = ("expect", key)
            if isinstance(value, dict):
                dotted = key + "." + ".".join(_first_path(value))
                self.err(w, f"regime {dotted!r} must be quoted in [expect]: write \"{dotted}\" = ...")
            verdicts = [value] if isinstance(value, str) else value
            if not isinstance(verdicts, list) or not verdicts:
                self.err(w, f"expectation of {key!r} must be a verdict or a non-empty list of verdicts")
            for v in verdicts:
                if v not in VERDICTS:
                    self.err(w, f"unknown verdict {v!r} for {key!r}; verdicts: {_listing(VERDICTS)}")
            try:
                regime = parse_regime(key)
                build_table(regime)
            except RegimeError as e:
                self.err(w, str(e))
            for t in threads:
                for o in t.ops:
                    problem = check_op_regime(o, regime)
                    if problem:
                        raise ScenarioError(self.path, o.line, f"{problem} ([expect] {key!r} at line "
                                                               f"{self.lines.line(*w)})")
            expect[key] = tuple(dict.fromkeys(verdicts))
            lines[key] = self.lines.line(*w)
        return expect, lines

    def check_options(self, doc):
        from pcilock.engine.explore import STRATEGIES

        w = ("check",)
        table = self.want(doc.get("check", {}), w, "table", "[check]")
        self.keys(table, w, CHECK_KEYS, "[check]")
        opts = {}
        if "strategy" in table:
            if table["strategy"] not in STRATEGIES:
                self.err(w + ("strategy",), f"unknown strategy {table['strategy']!r}; strategies: "
                                            f"{_listing(STRATEGIES)}")
            opts["strategy"] = table["strategy"]
        if "budget" in table:
            b = table["budget"]
            if isinstance(b, bool) or not isinstance(b, int | float) or not b > 0:
                self.err(w + ("budget",), f"budget must be a positive number of seconds, not {b!r}")
            opts["budget"] = float(b)
        if "executions" in table:
            n = self.want(table["executions"], w + ("executions",), "int", "executions")
            if n < 1:
                self.err(w + ("executions",), f"executions must be a positive integer, not {n}")
            opts["executions"] = n
        if "seed" in table:
            opts["seed"] = self.want(table["seed"], w + ("seed",), "int", "seed")
        if "max_steps" in table:
            m = self.want(table["max_steps"], w + ("max_steps",), "int", "max_steps")
            if m < 1:
                self.err(w + ("max_steps",), f"max_steps must be a positive integer, not {m}")
            opts["max_steps"] = m
        if "all" in table:
            opts["all"] = self.want(table["all"], w + ("all",), "bool", "all")
        return opts


def _first_path(d):
    out = []
    while isinstance(d, dict) and d:
        k = next(iter(d))
        out.append(k)
        d = d[k]
    return out


def _parents_first(specs, by_bdf):
    out, done = [], set()
    for s in specs:
        chain = []
        x = s
        while x is not None and x.bdf not in done:
            chain.append(x)
            x = by_bdf.get(x.parent) if x.parent else None
        for y in reversed(chain):
            out.append(y)
            done.add(y.bdf)
    return out
