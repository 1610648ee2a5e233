"""Reports of toy explorations: every kind of verdict, plus hostile names."""

from __future__ import annotations

import programs as P
import toys

from pcilock.report import build_report

REGIME = "v7.2+nechita-v14"

# what a real cite() does: the kernel file a model function mirrors
KERNEL_FILES = {
    "remove_store": "drivers/pci/pci-sysfs.c",
    "pci_stop_and_remove_bus_device_locked": "drivers/pci/remove.c",
    "pci_lock_rescan_remove": "drivers/pci/probe.c",
    "sriov_numvfs_store": "drivers/pci/iov.c",
    "device_lock": "include/linux/device.h",
    "vfio_pci_remove": "drivers/vfio/pci/vfio_pci.c",
    "pci_stop_dev": "drivers/pci/remove.c",
    "pci_dev_put": "drivers/pci/pci.c",
    "pci_dev_is_added": "drivers/pci/pci.h",
}


def cite(func, model_file, line=None):
    return KERNEL_FILES.get(func)


def replay_command(found):
    from pcilock.engine import encode
    return f"pcilock replay seed-000 --kernel {REGIME} --schedule {encode(found.schedule)}"


def make_report(result, scenario_id="seed-000", title="SR-IOV disable vs remove", regime=REGIME, **kw):
    scenario = {"id": scenario_id, "title": title, "path": "scenarios/seed-000.toml",
                "links": ["https://lore.kernel.org/linux-pci/20260319202755.16081-1-ionut.nechita@windriver.com/"]}
    kw.setdefault("cite", cite)
    kw.setdefault("replay_command", replay_command)
    return build_report(scenario=scenario, regime=regime, result=result, strategy=result.strategy or "dpor",
                        seed=0, **kw)


def _long_names():
    dev = "&dev->mutex " + " ".join(f"0000:{i:02x}:00.0" for i in range(12))
    prog = P.sriov_abba(dev_name=dev, rescan_name="pci_rescan_remove_lock_" + "x" * 90,
                        remove_task="remove-" + "r" * 70, sriov_task="sriov", workers=1)
    return make_report(P.explore(prog), scenario_id="long-" + "n" * 80, regime="v7.2" + "+patch-v1" * 12)


CASES = {
    "deadlock": lambda: make_report(P.explore(P.sriov_abba(workers=1))),
    "deadlock3": lambda: make_report(P.explore(toys.philosophers(3))),
    "hang": lambda: make_report(P.explore(P.vfio_hang())),
    "ok": lambda: make_report(P.explore(P.independent())),
    "inconclusive": lambda: make_report(P.inconclusive()),
    "model-error": lambda: make_report(P.explore(P.broken_model())),
    "warn": lambda: make_report(P.explore(P.exits_holding())),
    "race": lambda: make_report(P.explore(P.is_added_race())),
    "uaf": lambda: make_report(P.explore(P.put_then_use())),
    "race-tid": lambda: make_report(P.synthetic("race")),
    "uaf-tid": lambda: make_report(P.synthetic("uaf")),
    "lock-graph": lambda: make_report(P.with_lock_graph(P.explore(P.independent()))),
    "long-names": _long_names,
    "xss": lambda: make_report(P.explore(P.sriov_abba()), title="<script>alert('x')</script> & <b>",
                               scenario_id="xss"),
}
