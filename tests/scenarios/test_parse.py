"""The scenario parser: good files parse to the expected topology and operations;
every bad file gives one line ``PATH:LINE: message`` at the right line.

Each file in ``bad/`` starts with ``# error: LINE: TEXT``: the error must be at
LINE (0: no line) and contain TEXT.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pcilock.kernel import load_all
from pcilock.kernel.userspace import OPS, Op
from pcilock.kernel.world import DeviceSpec
from pcilock.patches import parse_regime
from pcilock.scenarios import catalogue
from pcilock.scenarios.parse import (
    ScenarioError,
    check_regime,
    load_scenario,
    parse_scenario_file,
    parse_scenario_text,
)

HERE = Path(__file__).parent
BAD = sorted((HERE / "bad").glob("*.toml"))
GOOD = sorted((HERE / "good").glob("*.toml"))
ALL_KINDS = ("dev_attr_write", "dev_attr_read", "bus_rescan", "class_bus_rescan", "driver_bind",
             "driver_unbind", "slot_power", "modprobe", "modprobe_r", "hotplug", "aer", "dpc", "eeh", "vfio")


@pytest.fixture
def all_ops(monkeypatch):
    """Every operation kind counts as implemented (some are still being modelled)."""
    load_all()
    for kind in ALL_KINDS:
        if kind not in OPS:
            monkeypatch.setitem(OPS, kind, (None, None))


def _expected(path):
    m = re.match(r"# error: (\d+): (.*)\n", path.read_text())
    assert m, f"{path.name} lacks its '# error: LINE: TEXT' header"
    return int(m.group(1)), m.group(2)


def test_fixture_set_is_complete():
    assert len(BAD) >= 60 and len(GOOD) >= 2


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_file_gives_one_line_at_the_right_line(path, all_ops):
    line, text = _expected(path)
    with pytest.raises(ScenarioError) as ei:
        parse_scenario_file(path)
    err = ei.value
    msg = str(err)
    assert "\n" not in msg
    assert err.line == line, msg
    prefix = f"{path}:{line}: " if line else f"{path}: "
    assert msg.startswith(prefix), msg
    assert text in msg, msg


def test_error_format():
    assert str(ScenarioError("a.toml", 3, "bad\n thing")) == "a.toml:3: bad thing"
    assert str(ScenarioError("a.toml", 0, "bad")) == "a.toml: bad"
    assert str(ScenarioError("a.toml", None, "bad")) == "a.toml: bad"


def test_example_topology_and_ops(all_ops):
    sc = parse_scenario_file(HERE / "good" / "example.toml")
    assert sc.id == "example"
    assert sc.title == "Disabling VFs while the PF is removed"
    assert sc.links == ["https://lore.kernel.org/example"]
    assert sc.topology.devices == [
        DeviceSpec("0000:00:1c.0", type="root-port", hotplug=True, slot=1),
        DeviceSpec("0000:01:00.0", parent="0000:00:1c.0", driver="igb", driver_options={"max_vfs": 2},
                   total_vfs=4, num_vfs=2, drivers_autoprobe=True, vf_driver="igbvf", numa_node=-1,
                   reset_methods=("flr", "bus")),
    ]
    assert sc.topology.child_bus == {"0000:00:1c.0": 1}
    assert [(t.name, t.repeat, t.line) for t in sc.threads] == [("remove", 1, 23), ("t1", 2, 28)]
    assert sc.threads[0].ops == [
        Op("dev_attr_write", ("0000:01:00.0", "remove", "1"),
           "echo 1 > /sys/bus/pci/devices/0000:01:00.0/remove", 25)]
    assert sc.threads[1].ops == [
        Op("dev_attr_write", ("0000:01:00.0", "sriov_numvfs", "0"),
           "echo 0 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", 30),
        Op("dev_attr_read", ("0000:01:00.0", "sriov_numvfs"),
           "cat /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", 31)]
    assert sc.expect == {"v7.2": ("deadlock",), "v7.2+nechita-v14": ("ok", "inconclusive")}
    assert sc.expect_lines == {"v7.2": 36, "v7.2+nechita-v14": 37}
    assert sc.options == {"strategy": "dpor", "budget": 30.0, "seed": 7, "max_steps": 5000}
    assert sc.notes == ""
    assert sc.path == str(HERE / "good" / "example.toml")


def test_example_parses_with_the_ops_implemented_today():
    """No monkeypatching: the example only uses operations the model has."""
    sc = parse_scenario_file(HERE / "good" / "example.toml")
    kinds = [o.kind for t in sc.threads for o in t.ops]
    assert kinds == ["dev_attr_write", "dev_attr_write", "dev_attr_read"]


def test_every_operation_form(all_ops):
    sc = parse_scenario_file(HERE / "good" / "all-ops.toml")
    assert sc.id == "all-ops"
    assert sc.notes.startswith("Every operation line form")
    # parents before children; file order otherwise
    assert [d.bdf for d in sc.topology.devices] == [
        "0000:00:1c.0", "0000:01:00.0", "0000:02:01.0", "0000:03:00.0", "0000:02:02.0", "0000:04:00.0"]
    assert sc.topology.child_bus == {"0000:02:01.0": 3, "0000:01:00.0": 2, "0000:00:1c.0": 1,
                                     "0000:02:02.0": 4}
    pf = sc.topology.spec("0000:03:00.0")
    assert (pf.total_vfs, pf.num_vfs, pf.vf_offset, pf.vf_stride) == (2, 0, 2, 2)
    assert sc.topology.spec("0000:04:00.0").present is False
    got = [(o.kind, o.args) for t in sc.threads for o in t.ops]
    assert got == [
        ("dev_attr_write", ("0000:03:00.0", "remove", "1")),
        ("dev_attr_write", ("0000:03:00.0", "rescan", "1")),
        ("dev_attr_write", ("0000:03:00.2", "reset", "1")),
        ("dev_attr_write", ("0000:03:00.0", "reset_method", "flr bus")),
        ("dev_attr_write", ("0000:02:01.0", "reset_subordinate", "1")),
        ("dev_attr_write", ("0000:03:00.0", "sriov_numvfs", "2")),
        ("dev_attr_write", ("0000:03:00.0", "sriov_drivers_autoprobe", "0")),
        ("dev_attr_read", ("0000:03:00.0", "sriov_numvfs")),
        ("bus_rescan", ("1",)),
        ("class_bus_rescan", ("0000:02", "1")),
        ("driver_unbind", ("mlx5_core", "0000:03:00.4")),
        ("driver_bind", ("vfio-pci", "0000:03:00.0")),
        ("slot_power", (7, "0")),
        ("slot_power", (7, "1")),
        ("modprobe", ("mlx5_core",)),
        ("modprobe_r", ("vfio-pci",)),
        ("hotplug", ("surprise-removal", "0000:02:01.0")),
        ("hotplug", ("insertion", "0000:02:01.0")),
        ("hotplug", ("button", "0000:02:01.0")),
        ("aer", ("fatal", "0000:03:00.0")),
        ("aer", ("nonfatal", "0000:03:00.2")),
        ("dpc", ("0000:02:01.0",)),
        ("eeh", ("0000:03:00.0",)),
        ("vfio", ("open", "0000:03:00.2")),
        ("vfio", ("close", "0000:03:00.2")),
        ("vfio", ("reset", "0000:03:00.0")),
        ("vfio", ("hot-reset", "0000:03:00.0")),
    ]
    ops = sc.threads[0].ops
    assert [o.line for o in ops] == list(range(39, 53))
    assert ops[1].text == "echo 1 >/sys/bus/pci/devices/0000:03:00.0/rescan"
    assert [t.name for t in sc.threads] == ["t0", "events"]


def test_kind_not_in_the_model(monkeypatch):
    load_all()
    monkeypatch.delitem(OPS, "modprobe")
    text = '[[device]]\nbdf = "0000:00:02.0"\n[[thread]]\nrun = [\n "echo 1 > /sys/bus/pci/rescan",\n' \
           ' "modprobe nvme",\n]\n'
    with pytest.raises(ScenarioError) as ei:
        parse_scenario_text(text, "k.toml")
    assert str(ei.value) == ("k.toml:6: operation not supported by the model: 'modprobe nvme' "
                             "(no 'modprobe' operation is implemented yet)")


def test_op_only_in_some_bases(monkeypatch):
    load_all()
    monkeypatch.setitem(OPS, "modprobe", (OPS["modprobe"][0], ("v7.2",)))
    text = '[[device]]\nbdf = "0000:00:02.0"\n[[thread]]\nrun = ["modprobe nvme"]\n'
    sc = parse_scenario_text(text, "k.toml")
    check_regime(sc, parse_regime("v7.2+nechita-v14"))
    with pytest.raises(ScenarioError) as ei:
        check_regime(sc, parse_regime("v6.1"))
    assert str(ei.value).startswith("k.toml:4: 'modprobe nvme' is not supported by v6.1")
    with pytest.raises(ScenarioError) as ei:
        parse_scenario_text(text + '[expect]\n"v7.2" = "ok"\n"v6.12" = "ok"\n', "k.toml")
    assert str(ei.value).startswith("k.toml:4: 'modprobe nvme' is not supported by v6.12")
    assert "[expect] 'v6.12' at line 7" in str(ei.value)


def test_syntax_error_at_end_of_document():
    with pytest.raises(ScenarioError) as ei:
        parse_scenario_text('id = "x"\nrun = [\n', "e.toml")
    assert re.fullmatch(r"e\.toml:[23]: invalid TOML: .*", str(ei.value))


def test_multiline_strings_do_not_shift_lines():
    text = ('notes = """\none\n[[device]]\ntwo"""\n[[device]]\nbdf = "0000:00:02.0"\n'
            "[[thread]]\nrun = ['''echo 1 > /sys/bus/pci/rescan''',\n  \"bogus\"]\n")
    with pytest.raises(ScenarioError) as ei:
        parse_scenario_text(text, "m.toml")
    assert str(ei.value).startswith("m.toml:9: 'bogus': unknown command 'bogus'")


def test_parse_is_deterministic():
    a = parse_scenario_file(HERE / "good" / "example.toml")
    b = parse_scenario_file(HERE / "good" / "example.toml")
    assert a == b and repr(a) == repr(b)


def test_parse_is_independent_of_hash_seed():
    prog = ("import sys; from pcilock.scenarios.parse import parse_scenario_file as p; "
            "print(repr(p(sys.argv[1])))")
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-c", prog, str(HERE / "good" / "example.toml")],
                           capture_output=True, text=True, env=env, check=True)
        outs.add(r.stdout)
    assert len(outs) == 1


def test_unreadable_file(tmp_path):
    with pytest.raises(ScenarioError) as ei:
        parse_scenario_file(tmp_path / "missing.toml")
    assert str(ei.value).startswith(f"{tmp_path / 'missing.toml'}: cannot read")
    bad = tmp_path / "latin.toml"
    bad.write_bytes(b'id = "x"\ntitle = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as ei:
        parse_scenario_file(bad)
    assert str(ei.value) == f"{bad}:2: not UTF-8 text"


# -- the catalogue ---------------------------------------------------------------

def _write(d, name, sid=None):
    head = f'id = "{sid}"\n' if sid else ""
    (d / name).write_text(head + '[[device]]\nbdf = "0000:00:02.0"\n[[thread]]\n'
                                 'run = ["echo 1 > /sys/bus/pci/rescan"]\n')


def test_list_and_resolve(tmp_path):
    _write(tmp_path, "b-first.toml")
    _write(tmp_path, "zz.toml", sid="a-second")
    assert [s.id for s in catalogue.list_catalogue(tmp_path)] == ["a-second", "b-first"]
    assert catalogue.resolve("b-first", tmp_path) == tmp_path / "b-first.toml"
    assert catalogue.resolve("a-second", tmp_path) == tmp_path / "zz.toml"
    assert catalogue.resolve(str(tmp_path / "zz.toml")) == tmp_path / "zz.toml"
    with pytest.raises(ScenarioError) as ei:
        catalogue.resolve("nope", tmp_path)
    assert str(ei.value) == ("nope: no such scenario file or catalogue id: 'nope' "
                             "(pcilock list shows the catalogue)")


def test_duplicate_ids_in_catalogue(tmp_path):
    _write(tmp_path, "a.toml")
    _write(tmp_path, "b.toml", sid="a")
    with pytest.raises(ScenarioError, match="scenario id 'a' is also the id of"):
        catalogue.list_catalogue(tmp_path)


def test_load_scenario_by_path_and_id(tmp_path, monkeypatch):
    _write(tmp_path, "by-id.toml")
    monkeypatch.setattr(catalogue, "catalogue_dir", lambda: tmp_path)
    assert load_scenario("by-id").path == str(tmp_path / "by-id.toml")
    assert load_scenario(tmp_path / "by-id.toml").id == "by-id"
    with pytest.raises(ScenarioError, match="no such scenario file or catalogue id"):
        load_scenario("missing-id")


def test_catalogue_dir_in_a_checkout():
    d = catalogue.catalogue_dir()
    assert d.name in ("scenarios", "catalogue")


def test_every_catalogue_scenario_parses():
    scs = catalogue.list_catalogue()
    assert [s.id for s in scs] == sorted(s.id for s in scs)
    for s in scs:
        assert s.threads and s.topology.devices


def test_vfs_beyond_the_pf_bus_and_free_secondary_buses():
    text = ('[[device]]\nbdf = "0000:00:1c.0"\ntype = "root-port"\n'
            '[[device]]\nbdf = "0000:00:1d.0"\ntype = "root-port"\nhotplug = true\n'
            '[[device]]\nbdf = "0000:01:00.0"\nparent = "0000:00:1c.0"\nsriov = { total_vfs = 300 }\n'
            '[[thread]]\nrun = ["echo 1 > /sys/bus/pci/devices/0000:02:05.4/reset",\n'
            '       "echo 1 > /sys/class/pci_bus/0000:03/rescan"]\n')
    sc = parse_scenario_text(text, "v.toml")
    # VFs 255..299 of 01:00.0 are on bus 02, so the childless port gets bus 03
    assert sc.topology.child_bus == {"0000:00:1c.0": 1, "0000:00:1d.0": 3}
    assert [o.args[0] for o in sc.threads[0].ops] == ["0000:02:05.4", "0000:03"]
    with pytest.raises(ScenarioError, match=r"^v\.toml:13: .*unknown device 0000:02:05\.5"):
        parse_scenario_text(text.replace("02:05.4", "02:05.5"), "v.toml")


def test_inline_arrays_of_tables_report_element_lines():
    text = ('device = [\n  { bdf = "0000:00:02.0" },\n  { bdf = "0000:00:03.0", typo = 1 },\n]\n'
            'thread = [{ run = ["echo 1 > /sys/bus/pci/rescan"] }]\n')
    with pytest.raises(ScenarioError) as ei:
        parse_scenario_text(text, "i.toml")
    assert str(ei.value).startswith("i.toml:3: unknown key 'typo' in [[device]]")
