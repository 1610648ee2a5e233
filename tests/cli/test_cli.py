"""The command line as a user runs it: exit codes, one-line input errors, budgets, replay.

Each test runs ``python -m pcilock.cli.main`` in a subprocess, like the console script.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SEED0 = "seed-000-sriov-numvfs-vs-remove"

# A scenario a user writes, not in the catalogue: two vfio-owned drives in two hotplug slots
# of a switch, surprise-removed while their owner closes them.  Its state space is far larger
# than a handful of executions.
USER_SCENARIO = """\
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"

[[device]]
bdf = "0000:01:00.0"
type = "upstream-port"
parent = "0000:00:1c.0"

[[device]]
bdf = "0000:02:00.0"
type = "downstream-port"
parent = "0000:01:00.0"
hotplug = true
slot = 1

[[device]]
bdf = "0000:02:01.0"
type = "downstream-port"
parent = "0000:01:00.0"
hotplug = true
slot = 2

[[device]]
bdf = "0000:03:00.0"
parent = "0000:02:00.0"
driver = "vfio-pci"
reset_methods = ["bus"]
driver_options = { open_by = "spdk" }

[[device]]
bdf = "0000:04:00.0"
parent = "0000:02:01.0"
driver = "vfio-pci"
reset_methods = ["bus"]
driver_options = { open_by = "qemu" }

[[thread]]
name = "spdk"
run = ["hotplug surprise-removal 0000:02:00.0", "vfio close 0000:03:00.0"]

[[thread]]
name = "qemu"
run = ["hotplug surprise-removal 0000:02:01.0", "vfio close 0000:04:00.0"]
"""


def pcilock(*args):
    return subprocess.run([sys.executable, "-m", "pcilock.cli.main", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def user_file(tmp_path):
    p = tmp_path / "my-scenario.toml"
    p.write_text(USER_SCENARIO, encoding="utf-8")
    return p


def test_deadlock_exits_1_with_a_lockdep_style_report_and_a_replay_command():
    r = pcilock("check", SEED0, "--kernel", "v7.2")
    assert r.returncode == 1, r.stderr
    assert "WARNING: possible circular locking dependency detected" in r.stdout
    assert "Possible unsafe locking scenario" in r.stdout
    assert f"pcilock replay {SEED0} --kernel v7.2" in r.stdout


def test_exhaustive_ok_exits_0():
    r = pcilock("check", SEED0, "--kernel", "v7.2+nechita-v14", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["verdict"], d["exhaustive"]) == ("ok", True)


def test_replay_string_from_check_reproduces_the_deadlock():
    d = json.loads(pcilock("check", SEED0, "--kernel", "v7.2", "--format", "json").stdout)
    (v,) = d["violations"]
    r = pcilock("replay", SEED0, "--kernel", "v7.2", "--schedule", v["replay"])
    assert r.returncode == 1
    assert "DEADLOCK" in r.stdout


def test_user_scenario_file_outside_the_catalogue_gives_a_verdict_with_a_trace(user_file):
    r = pcilock("check", str(user_file), "--kernel", "v7.2-f5eff5591b8f", "--strategy", "random",
                "--executions", "50")
    assert r.returncode == 1, r.stderr
    assert "deadlock: wait-for cycle" in r.stdout
    assert "task \"hardirq/pciehp 0000:02:0" in r.stdout
    assert "task \"spdk\"" in r.stdout or "task \"qemu\"" in r.stdout
    assert "waits for:" in r.stdout and "holds" in r.stdout


def test_execution_budget_ends_in_inconclusive_exit_3_never_ok(user_file):
    r = pcilock("check", str(user_file), "--kernel", "v7.2", "--executions", "3",
                "--format", "json")
    assert r.returncode == 3, r.stderr
    d = json.loads(r.stdout)
    assert d["verdict"] == "inconclusive" and d["exhaustive"] is False
    assert d["stats"]["executions"] == 3 and d["stats"]["stop_reason"] == "budget"


def test_scenario_check_table_gives_budget_strategy_and_seed(user_file, tmp_path):
    p = tmp_path / "with-check.toml"
    p.write_text(USER_SCENARIO + '\n[check]\nstrategy = "random"\nexecutions = 4\nseed = 7\n',
                 encoding="utf-8")
    d = json.loads(pcilock("check", str(p), "--kernel", "v7.2", "--format", "json").stdout)
    assert (d["strategy"], d["seed"], d["stats"]["executions"]) == ("random", 7, 4)
    # the command line wins over the scenario's table
    d = json.loads(pcilock("check", str(p), "--kernel", "v7.2", "--seed", "3",
                           "--executions", "2", "--format", "json").stdout)
    assert (d["seed"], d["stats"]["executions"]) == (3, 2)


def test_same_seed_gives_byte_identical_json_apart_from_timings(user_file):
    def run():
        d = json.loads(pcilock("check", str(user_file), "--kernel", "v7.2-f5eff5591b8f", "--strategy", "pct",
                               "--seed", "5", "--executions", "20", "--format", "json").stdout)
        d["stats"].pop("seconds")
        return json.dumps(d, sort_keys=True)

    assert run() == run()


@pytest.mark.parametrize("args, needle", [
    (("check", SEED0, "--kernel", "v7.3"), "--kernel v7.3"),
    (("check", SEED0, "--kernel", "v7.2+no-such-patch"), "no-such-patch"),
    (("check", SEED0, "--kernel", "v7.2+a5338e365c45"), "a5338e365c45"),
    (("check", "no-such-scenario"), "no-such-scenario"),
    (("check", SEED0, "--executions", "0"), "--executions"),
    (("check", SEED0, "--budget", "-1"), "--budget"),
    (("replay", SEED0, "--kernel", "v7.2", "--schedule", "zz"), "--schedule"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    r = pcilock(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr
    assert r.stdout == ""


def test_bad_scenario_file_names_file_and_line(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(USER_SCENARIO + "\n[check]\nexecutions = 0\n", encoding="utf-8")
    r = pcilock("check", str(p))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{p}:" in lines[0] and "executions" in lines[0], r.stderr


def test_matrix_of_one_scenario_exits_0_when_its_expectations_hold():
    r = pcilock("matrix", "seed-000-recursive-rrl-2025")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "6 expectations, 6 hold, 0 do not" in r.stdout


def test_matrix_text_fits_80_columns_and_says_what_was_expected_where_it_fails(tmp_path):
    r = pcilock("matrix", "seed-000-recursive-rrl-2025")
    lines = r.stdout.splitlines()
    assert lines[0] == "seed-000-recursive-rrl-2025"
    assert all(len(line) <= 80 for line in lines), r.stdout
    assert any(line.split()[:3] == ["ok", "v7.2", "ok"] for line in lines), r.stdout
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(TINY_EXPECTING_OK.replace('"v7.2" = "ok"', '"v7.2" = ["deadlock", "race"]'),
                     encoding="utf-8")
    r = pcilock("matrix", str(wrong))
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert lines[1].split()[:3] == ["FAIL", "v7.2", "ok"], r.stdout
    assert lines[2].strip() == "expected deadlock or race", r.stdout
    assert lines[3] == "1 expectations, 0 hold, 1 do not"


def test_version_and_help():
    assert pcilock("--version").stdout.startswith("pcilock, version ")
    assert "check" in pcilock("--help").stdout


def test_list_names_every_catalogue_file():
    out = pcilock("list").stdout
    for f in sorted(Path(__file__).resolve().parents[2].joinpath("scenarios").glob("*.toml")):
        assert f.stem in out
    assert max(len(line) for line in out.splitlines()) <= 80  # titles wrapped for a terminal


# -- replay strings that do not fit ------------------------------------------------------

SEED0_V72_DEADLOCK = "p1:0x5.1x13"  # what check prints for SEED0 under v7.2


@pytest.mark.parametrize("regime, schedule, needle", [
    ("v7.2", "p1:0x5.5x2", "step 5 wants thread 5, enabled are 0 (numvfs), 1 (remove)"),
    ("v7.2+nechita-v14", SEED0_V72_DEADLOCK, "step 15 wants thread 1, enabled are 0 (numvfs)"),
    ("v7.2", "p1:", "it has 0 steps and ends while threads can still run"),
    ("v7.2", "p1:0x3", "it has 3 steps and ends while threads can still run"),
    ("v7.2", "p1:0x5.1x99", "it has 104 steps, but the execution ends after 18"),
    ("v7.2", "p1:0=1", "step 0 gives thread 0 a choice (1), but that step chooses nothing"),
])
def test_replay_string_that_does_not_fit_is_one_line_exit_2(regime, schedule, needle):
    r = pcilock("replay", SEED0, "--kernel", regime, "--schedule", schedule)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    assert "--schedule does not fit this scenario/regime" in line and needle in line, line
    assert "only fits the scenario and regime it was printed for" in line


def test_replay_string_ending_at_its_violation_fits():
    r = pcilock("replay", SEED0, "--kernel", "v7.2", "--schedule", SEED0_V72_DEADLOCK)
    assert r.returncode == 1, r.stderr
    assert "DEADLOCK" in r.stdout


def test_replay_shows_each_threads_command_under_its_own_name():
    r = pcilock("replay", SEED0, "--kernel", "v7.2", "--schedule", SEED0_V72_DEADLOCK)
    notes = [line.split() for line in r.stdout.splitlines() if " # " in line]
    assert ["numvfs", "#", "echo", "0", ">", "/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"] in notes
    assert ["remove", "#", "echo", "1", ">", "/sys/bus/pci/devices/0000:01:00.0/remove"] in notes
    d = json.loads(pcilock("replay", SEED0, "--kernel", "v7.2", "--schedule", SEED0_V72_DEADLOCK,
                           "--format", "json").stdout)
    for e in d["events"]:
        for n in e["notes"]:
            assert ("sriov_numvfs" in n) == (e["thread"] == "numvfs"), (e["thread"], n)


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="no procfs")
def test_unwritable_report_path_fails_before_exploring(tmp_path):
    # root's os.access says yes to /proc/version; the check must try for real
    w = tmp_path / "w"
    w.mkdir()
    r = pcilock("check", SEED0, "--kernel", "v7.2", "--out", str(w / "o.txt"), "--html", str(w / "o.html"),
                "--dot", "/proc/version")
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--dot" in lines[0] and "/proc/version" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""  # nothing explored, no report printed
    assert os.listdir(w) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_report_write_failure_is_one_line_and_writes_nothing(tmp_path):
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    r = pcilock("check", SEED0, "--kernel", "v7.2", "--out", "/dev/full", "--html", str(tmp_path / "o.html"),
                "--dot", str(tmp_path / "o.dot"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--out" in lines[0] and "No space left on device" in lines[0], r.stderr
    assert os.listdir(tmp_path) == []  # all or nothing: the HTML and DOT files were not renamed in
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_report_through_symlink_and_fifo(tmp_path):
    (tmp_path / "link.txt").symlink_to("real.txt")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    r = pcilock("check", SEED0, "--kernel", "v7.2", "--out", str(tmp_path / "link.txt"), "--dot", str(fifo),
                "--html", "/dev/null")
    reader.join(timeout=60)
    assert r.returncode == 1, r.stderr  # deadlock
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == r.stdout
    assert got and got[0].startswith("digraph lock_order {")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dot_draws_every_edge_of_the_lock_graph(tmp_path):
    dot = tmp_path / "g.dot"
    r = pcilock("check", SEED0, "--kernel", "v7.2", "--format", "json", "--dot", str(dot))
    assert r.returncode == 1, r.stderr
    lg = json.loads(r.stdout)["lock_graph"]
    text = dot.read_text()
    drawn = [line for line in text.splitlines() if re.match(r"  n\d+ -> n\d+ \[", line)]
    assert len(drawn) == lg["edges"] == len(lg["edge_list"]) > 20
    assert sum("color=red" in line for line in drawn) >= 2  # the cycle's edges, highlighted
    assert sum("color=red" not in line for line in drawn) > 0
    if shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg", str(dot)], capture_output=True, text=True, check=True).stdout
        assert svg.count('class="edge"') == lg["edges"]


# -- why a run stopped, and what to do about it -------------------------------------------

def _one_paragraph(text):
    return " ".join(text.split())


def test_execution_limit_is_named_as_such_not_as_the_time_budget(user_file):
    r = pcilock("check", str(user_file), "--kernel", "v7.2", "--executions", "3")
    assert r.returncode == 3, r.stderr
    out = _one_paragraph(r.stdout)
    assert "(dpor, execution limit reached)" in out
    assert "the execution limit was reached (3 executions)" in out
    assert "give a larger --executions" in out
    assert "budget" not in out
    d = json.loads(pcilock("check", str(user_file), "--kernel", "v7.2", "--executions", "3",
                           "--format", "json").stdout)
    assert (d["stats"]["stop_reason"], d["stats"]["limit"]) == ("budget", "executions")


def test_sampling_run_at_its_execution_limit_suggests_an_exhaustive_strategy(user_file):
    r = pcilock("check", str(user_file), "--kernel", "v7.2", "--strategy", "random",
                "--executions", "5")
    assert r.returncode == 3, r.stderr
    out = _one_paragraph(r.stdout)
    assert "(random, seed 0, execution limit reached)" in out
    assert "give a larger --executions" in out and "--strategy dpor" in out
    assert "budget" not in out


def test_time_budget_is_named_as_such(user_file):
    r = pcilock("check", str(user_file), "--kernel", "v7.2", "--budget", "0.2")
    assert r.returncode == 3, r.stderr
    out = _one_paragraph(r.stdout)
    assert "time budget exhausted" in out and "give a larger --budget" in out
    assert "--executions" not in out


def test_bounded_search_names_its_bound_and_suggests_dpor(user_file):
    r = pcilock("check", str(user_file), "--kernel", "v7.2", "--strategy", "bounded",
                "--executions", "5", "--format", "json")
    d = json.loads(r.stdout)
    assert d["stats"]["bound"] == 2
    r = pcilock("check", str(user_file), "--kernel", "v7.2", "--strategy", "bounded",
                "--executions", "5")
    out = _one_paragraph(r.stdout)
    assert "give a larger --executions" in out and "preemption bound 2" in out
    assert "--strategy dpor" in out


# -- matrix of scenarios without an [expect] table ----------------------------------------

TINY_EXPECTING_OK = """\
[[device]]
bdf = "0000:01:00.0"
driver = "igb"

[[thread]]
run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/remove"]

[expect]
"v7.2" = "ok"
"""


def test_matrix_of_scenarios_without_expectations_is_an_input_error(user_file, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(USER_SCENARIO, encoding="utf-8")
    r = pcilock("matrix", str(user_file), str(other))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2, r.stderr
    for path, line in zip((user_file, other), lines, strict=True):
        assert f"{path}:" in line and "no [expect] table" in line


def test_matrix_checks_the_scenarios_with_expectations_and_names_the_others(user_file, tmp_path):
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(TINY_EXPECTING_OK, encoding="utf-8")
    r = pcilock("matrix", str(tiny), str(user_file))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "1 expectations, 1 hold, 0 do not" in r.stdout
    (line,) = r.stderr.strip().splitlines()
    assert f"{user_file}:" in line and "no [expect] table" in line


def test_replay_trace_shows_a_small_set_by_its_contents():
    r = pcilock("replay", SEED0, "--kernel", "v7.2", "--schedule", SEED0_V72_DEADLOCK)
    assert "rmw(0000:01:00.0.priv_flags) -> {0, 7}" in r.stdout, r.stdout
    assert "frozenset" not in r.stdout
