"""The report dict: which tasks, stacks, locks and replay strings it holds."""

from __future__ import annotations

import os

import programs as P
from cases import REGIME, make_report

import pcilock
from pcilock.engine import encode
from pcilock.report import build_report, render_json

PKG = os.path.dirname(os.path.abspath(pcilock.__file__))
TESTS = os.path.dirname(os.path.abspath(__file__))


def test_deadlock_involves_the_cycle_tasks_only(reports):
    r = reports["deadlock"]
    assert r["verdict"] == "deadlock"
    (v,) = r["violations"]
    assert [t["name"] for t in v["threads"]] == ["remove", "sriov"]
    assert [t["name"] for t in v["tasks"]] == ["remove", "sriov", "kworker/0"]
    assert [t["involved"] for t in v["tasks"]] == [True, True, False]
    remove, sriov = v["threads"]
    assert remove["state"] == "blocked"
    assert remove["held"] == [{"name": P.RESCAN, "mode": "write"}]
    assert remove["waits_for"] == P.DEV
    assert remove["waits_for_kind"] == "mutex"
    assert remove["held_by"] == ["sriov"]
    assert sriov["waits_for"] == P.RESCAN
    assert [c["thread"] for c in v["detail"]["cycle"]] == ["remove", "sriov"]


def test_stacks_are_outermost_first_relative_and_cited(reports):
    remove = reports["deadlock"]["violations"][0]["threads"][0]
    funcs = [f["function"] for f in remove["stack"]]
    assert funcs == ["remove_store", "pci_stop_and_remove_bus_device_locked", "device_lock"]
    assert [f["mirrors"] for f in remove["stack"]] == [
        "drivers/pci/pci-sysfs.c", "drivers/pci/remove.c", "include/linux/device.h"]
    for f in remove["stack"]:
        assert f["model_file"] == "programs.py"
        assert isinstance(f["line"], int)


def test_package_model_files_are_relative_to_the_package():
    from pcilock.report.frames import model_path
    assert model_path(os.path.join(PKG, "kernel", "drivers", "pci", "remove.py")) == \
        "kernel/drivers/pci/remove.py"
    assert model_path("/elsewhere/toys.py") == "toys.py"


def test_no_absolute_path_in_any_report(any_report):
    _, r = any_report
    text = render_json(r)
    assert PKG not in text and TESTS not in text
    assert os.path.dirname(PKG) not in text


def test_replay_strings(reports):
    v = reports["deadlock"]["violations"][0]
    assert v["replay"].startswith("p1:")
    assert v["replay_command"] == f"pcilock replay seed-000 --kernel {REGIME} --schedule {v['replay']}"
    assert isinstance(v["preemptions"], int)


def test_default_replay_command():
    result = P.explore(P.sriov_abba())
    r = build_report(scenario={"id": "seed-000"}, regime="v7.2", result=result, strategy="dpor", seed=0)
    v = r["violations"][0]
    assert v["replay"] == encode(result.found[0].schedule)
    assert v["replay_command"] == f"pcilock replay seed-000 --kernel v7.2 --schedule {v['replay']}"
    assert v["threads"][0]["stack"][0]["mirrors"] is None
    assert r["scenario"] == {"id": "seed-000", "title": None, "path": None, "links": []}


def test_events_keep_every_task(reports):
    v = reports["deadlock"]["violations"][0]
    assert [e["step"] for e in v["events"]] == list(range(len(v["events"])))
    for e in v["events"]:
        assert e["thread"] in {t["name"] for t in v["tasks"]}
        assert e["stack"] and e["op"]


def test_holds_mark_the_cycle(reports):
    v = reports["deadlock"]["violations"][0]
    cyc = [(h["thread"], h["lock"]) for h in v["holds"] if h["cycle"]]
    assert sorted(cyc) == sorted([("remove", P.RESCAN), ("sriov", P.DEV)])
    assert all(h["to_step"] is None for h in v["holds"] if h["cycle"])
    assert any(e["cycle"] for e in v["events"])


def test_closed_hold_intervals():
    r = make_report(P.explore(P.vfio_hang()))
    second = r["violations"][-1]  # reset ran to completion first, then unbind blocked
    reset = [h for h in second["holds"] if h["thread"] == "reset"]
    assert reset and reset[0]["to_step"] is not None and reset[0]["to_step"] > reset[0]["from_step"]


def test_hang_involves_the_blocked_tasks(reports):
    r = reports["hang"]
    assert r["verdict"] == "hang"
    v = r["violations"][0]
    assert {t["name"] for t in v["threads"]} == {t["name"] for t in v["tasks"] if t["state"] == "blocked"}
    unbind = next(t for t in v["threads"] if t["name"] == "unbind")
    assert unbind["waits_for"] == "vfio release" and unbind["waits_for_kind"] == "completion"
    assert unbind["held_by"] == []
    assert v["detail"]["blocked"][0]["thread"] == "unbind"


def test_ok_and_inconclusive(reports):
    ok = reports["ok"]
    assert ok["verdict"] == "ok" and ok["exhaustive"] and ok["violations"] == []
    assert ok["stats"]["stop_reason"] == "covered"
    inc = reports["inconclusive"]
    assert inc["verdict"] == "inconclusive" and not inc["exhaustive"]
    assert inc["stats"]["stop_reason"] == "budget"
    assert "execution limit was reached" in inc["stop_description"]
    assert inc["stats"]["limit"] == "executions"
    for key in ("executions", "events", "seconds", "complete_executions", "max_depth"):
        assert key in ok["stats"]


def test_model_error(reports):
    r = reports["model-error"]
    assert r["verdict"] == "model-error"
    err = r["error"]
    assert err["thread"] == "rescan"
    assert "no such device 0000:02:00.0" in err["message"]
    assert [f["function"] for f in err["frames"]] == ["pci_bus_add_device"]
    assert err["replay"] is not None and err["replay_command"].endswith(err["replay"])


def test_lock_graph_absent_and_present(reports):
    assert reports["ok"]["lock_graph"] == {"cycles": [], "edges": 0, "locks": [], "edge_list": []}
    lg = reports["lock-graph"]["lock_graph"]
    assert lg["edges"] == 5
    chain = lg["cycles"][0]["chains"][0]
    assert chain["held_stack"] == [{"function": "remove_store", "model_file": "programs.py", "line": 40,
                                    "mirrors": "drivers/pci/pci-sysfs.c"}]
    assert lg["cycles"][0]["lockdep_visible"] is False


def test_race_detail_carries_both_accesses(reports):
    race = reports["race"]["violations"][0]
    acc = race["detail"]["accesses"]
    assert [(a["thread"], a["op"]) for a in acc] == [("rescan", "read"), ("remove", "write")]
    assert [f["function"] for f in acc[1]["frames"]] == ["remove_store", "pci_stop_dev"]
    assert acc[1]["frames"][-1]["mirrors"] == "drivers/pci/remove.c"
    # each involved task shows the stack of its own access
    assert [t["name"] for t in race["threads"]] == ["rescan", "remove"]
    assert [t["stack"][-1]["function"] for t in race["threads"]] == ["pci_dev_is_added", "pci_stop_dev"]


def test_uaf_detail_carries_use_and_free(reports):
    uaf = reports["uaf"]["violations"][0]
    assert uaf["detail"]["use"]["thread"] == "rescan"
    assert uaf["detail"]["free"]["thread"] == "remove"
    free_funcs = [f["function"] for f in uaf["detail"]["free"]["frames"]]
    assert free_funcs[:2] == ["pci_stop_and_remove_bus_device", "pci_dev_put"]
    by_name = {t["name"]: t for t in uaf["threads"]}
    assert by_name["rescan"]["stack"][-1]["function"] == "pci_dev_is_added"
    assert by_name["remove"]["stack"][1]["function"] == "pci_dev_put"


def test_details_naming_threads_by_tid(reports):
    race = reports["race-tid"]["violations"][0]
    assert [a["thread"] for a in race["detail"]["accesses"]] == ["rescan", "remove"]
    assert [t["stack"][-1]["function"] for t in race["threads"]] == ["pci_dev_is_added", "pci_stop_dev"]
    uaf = reports["uaf-tid"]["violations"][0]
    assert [f["function"] for f in uaf["detail"]["free"]["stack"]] == ["pci_stop_dev", "pci_dev_put"]


def test_warn_task_shows_where_the_check_failed(reports):
    v = reports["warn"]["violations"][0]
    assert v["kind"] == "warn"
    (t,) = v["threads"]
    assert t["name"] == "reset"
    assert [f["function"] for f in t["stack"]] == ["reset_store", "device_lock"]
    assert v["detail"]["held"][0]["lock"] == P.DEV


def test_detail_objects_become_names_not_reprs():
    from pcilock.engine import Mutex
    from pcilock.report.frames import Frames, sanitize

    class Thing:
        pass
    out = sanitize({"lock": Mutex("A"), "thing": Thing(), "tids": [1], "s": {3, 1}}, Frames(), {1: "remove"})
    assert out == {"lock": "A", "thing": "Thing", "tids": [1], "threads": ["remove"], "s": [1, 3]}


def test_scenario_paths_are_not_absolute_when_avoidable(monkeypatch, tmp_path):
    result = P.explore(P.independent())

    def path_of(p):
        return build_report(scenario={"id": "x", "path": p}, regime="v7.2", result=result, strategy="dpor",
                            seed=0)["scenario"]["path"]
    assert path_of(os.path.join(PKG, "catalogue", "x.toml")) == "catalogue/x.toml"
    monkeypatch.chdir(tmp_path)
    assert path_of(str(tmp_path / "mine" / "x.toml")) == "mine/x.toml"
    assert path_of("rel/x.toml") == "rel/x.toml"
    assert path_of(None) is None


def test_counterexample_without_a_recorded_trace():
    from pcilock.report import render_dot, render_html, render_text
    result = P.explore(P.sriov_abba(), record=False)
    r = make_report(result)
    v = r["violations"][0]
    assert v["events"] == [] and v["holds"] == []
    assert [t["name"] for t in v["threads"]] == ["t0", "t1"]
    for render in (render_text, render_json, render_dot, render_html):
        assert render(r)


def test_frames_cite_the_variant_that_ran():
    """A model file may define one variant of a function per version, citing different kernel files
    (pcie_portdrv_remove: portdrv_pci.c in v6.1, portdrv.c from v6.12): a frame inside a variant
    cites that variant's file."""
    import inspect

    from pcilock.kernel import load_all
    from pcilock.kernel._model import REGISTRY, citation_of

    load_all()
    checked = 0
    for name, variants in REGISTRY.items():
        if len({cit.path for cit, _ in variants}) < 2:
            continue
        for cit, fn in variants:
            src, first = inspect.getsourcelines(fn)
            last = first + len(src) - 1
            assert citation_of(name, inspect.getsourcefile(fn), last) == cit.path, (name, cit.path)
            checked += 1
    assert checked >= 2
