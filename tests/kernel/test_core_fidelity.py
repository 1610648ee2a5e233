"""Fidelity fixes of the driver-core / kernfs / PCI enumeration model, each checked by
exploration of a small scenario (written here, not in the catalogue): the verdict, or
the end state of every execution, is what the kernel source says it must be."""

from __future__ import annotations

import textwrap

from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.patches import parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

ROOT_PORT = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"
"""


def scenario(tmp_path, body, name="t"):
    p = tmp_path / f"{name}.toml"
    p.write_text(f'id = "{name}"\ntitle = "{name}"\n' + textwrap.dedent(body))
    return load_scenario(p)


def check(sc, regime, observe=None, **kw):
    """Explore *sc* under *regime*; ``observe(world)`` is called at the end of every execution."""
    load_all()
    prog = make_program(sc, parse_regime(regime))
    if observe is not None:
        inner = prog.final_checks

        def final(world, ex):
            observe(world)
            return inner(world, ex)

        prog.final_checks = final
    res = explore(prog, "dpor", budget=Budget(seconds=120), **kw)
    assert res.error is None, res.error
    return res


# -- F1: bus_remove_driver drains the driver's bind/unbind files -----------------------------------

NVME_BOUND = ROOT_PORT + """
[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
driver = "nvme"
"""


def test_rmmod_vs_unbind_bind_is_not_a_race(tmp_path):
    # remove_bind_files() drains unbind_store before driver_detach() runs: the unbind's plain
    # read of dev->driver happens before the detach's store (and a later bind finds no file)
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "rmmod"
    run = ["modprobe -r nvme"]

    [[thread]]
    name = "bind"
    run = ["echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/unbind",
           "echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/bind"]
    """)
    for regime in ("v6.1", "v6.12", "v7.2"):
        res = check(sc, regime)
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)


def test_bind_to_an_unloaded_driver_finds_no_file(tmp_path):
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "t"
    run = ["modprobe -r nvme", "echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/bind"]
    """)
    bound = []
    check(sc, "v7.2", observe=lambda w: bound.append(w.attrs["devices"]["0000:01:00.0"].peek("driver")))
    assert bound == [None]


def test_modprobe_creates_the_bind_files_again(tmp_path):
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "t"
    run = ["modprobe -r nvme", "modprobe nvme",
           "echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/unbind",
           "echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/bind"]
    """)
    bound = []
    check(sc, "v6.12", observe=lambda w: bound.append(w.attrs["devices"]["0000:01:00.0"].peek("driver")))
    assert [d.name for d in bound] == ["nvme"]
