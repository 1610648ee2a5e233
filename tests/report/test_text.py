"""The text report: lockdep-style, ASCII, never wider than 80 columns."""

from __future__ import annotations

import re
import shutil
import subprocess

import programs as P
import pytest

from pcilock.report import render_text
from pcilock.report.text import command_lines


def test_width_and_ascii(any_report):
    _, r = any_report
    text = render_text(r)
    assert text.endswith("\n")
    for line in text.splitlines():
        assert len(line) <= 80, line
        assert line.isascii(), line
        assert line == line.rstrip()


def test_deadlock_is_a_lockdep_splat(reports):
    text = render_text(reports["deadlock"])
    lines = text.splitlines()
    assert lines[0] == "=" * 54
    assert lines[1] == "WARNING: possible circular locking dependency detected"
    assert lines[2] == "pcilock 0.1.0: seed-000 on v7.2+nechita-v14 (dpor, stopped at first violation)"
    assert lines[4].startswith("verdict: deadlock after ")
    table = [
        "       CPU0                    CPU1",
        "       ----                    ----",
        f"  lock({P.RESCAN});",
        f"                               lock({P.DEV});",
        f"                               lock({P.RESCAN});",
        f"  lock({P.DEV});",
        "",
        " *** DEADLOCK ***",
    ]
    i = lines.index(table[0])
    assert lines[i:i + len(table)] == table
    assert 'task "remove" (t0), blocked:' in lines
    assert f"    #0: {P.RESCAN}" in lines
    assert f"  waits for: {P.DEV}" in lines
    assert '    held by: task "sriov" (t1)' in lines
    frame = re.compile(r"    remove_store programs\.py:\d+ \(drivers/pci/pci-sysfs\.c\)")
    assert any(frame.fullmatch(x) for x in lines)


def test_deadlock_leaves_unrelated_tasks_out(reports):
    text = render_text(reports["deadlock"])
    assert "kworker" not in text
    assert "1 other task not involved" in text


def test_replay_command_is_in_the_report(any_report):
    name, r = any_report
    text = render_text(r)
    cmds = [v["replay_command"] for v in r["violations"]]
    if r["error"] and r["error"]["replay_command"]:
        cmds.append(r["error"]["replay_command"])
    joined = text.replace("\\\n", "")
    for cmd in cmds:
        assert " ".join(cmd.split()) in " ".join(joined.split()), name


def test_three_task_cycle_is_listed(reports):
    text = render_text(reports["deadlock3"])
    assert "Wait-for cycle of 3 tasks:" in text
    assert '  "phil0" (t0) holds fork0, waits for fork1 held by "phil1"' in text
    assert "CPU1" not in text


def test_hang(reports):
    text = render_text(reports["hang"])
    assert text.splitlines()[1] == "INFO: task unbind blocked forever (and 1 more task)"
    assert "  waits for: vfio release" in text
    assert "    no task will ever provide it" in text


def test_ok_and_inconclusive(reports):
    ok = render_text(reports["ok"])
    assert ok.splitlines()[1] == "pcilock: OK, no violation found"
    assert "every interleaving was covered" in ok
    assert "verdict: ok after 1 execution, " in ok
    inc = render_text(reports["inconclusive"])
    assert "INCONCLUSIVE" in inc
    # the fixture's run ends at its execution limit: the report names that limit, not the time
    flat = " ".join(inc.split())
    assert "the execution limit was reached (1 execution) before the space was covered" in flat
    assert "give a larger --executions" in flat and "--budget" not in inc
    assert "space was NOT covered" in " ".join(inc.split())


def test_model_error(reports):
    text = render_text(reports["model-error"])
    assert "MODEL ERROR" in text
    assert "KeyError: 'no such device 0000:02:00.0'" in text
    assert "    pci_bus_add_device programs.py:" in text


def test_race_is_a_kcsan_report(reports):
    race = render_text(reports["race"])
    assert race.splitlines()[1] == "BUG: KCSAN: data-race in pci_dev_is_added / pci_stop_dev"
    assert 'read to PciDev.is_added of 0000:01:00.0 by task "rescan":' in race
    assert 'write to PciDev.is_added of 0000:01:00.0 by task "remove":' in race
    assert "    pci_stop_dev programs.py:" in race


def test_uaf_is_a_kasan_report(reports):
    uaf = render_text(reports["uaf"])
    assert uaf.splitlines()[1] == "BUG: KASAN: use-after-free in pci_dev_is_added"
    assert uaf.index('Read of is_added by task "rescan":') < uaf.index('Freed by task "remove":')
    assert "    pci_dev_put programs.py:" in uaf


def test_tid_shaped_details(reports):
    race = render_text(reports["race-tid"])
    assert race.splitlines()[1] == "BUG: KCSAN: data-race in pci_dev_is_added / pci_stop_dev"
    assert 'read to dev.is_added by task "rescan":' in race
    uaf = render_text(reports["uaf-tid"])
    assert uaf.index('Use by task "rescan"') < uaf.index('Freed by task "remove"')


def test_warn(reports):
    text = render_text(reports["warn"])
    assert text.splitlines()[1] == f"WARNING: task reset exited holding lock {P.DEV}"
    assert "    device_lock programs.py:" in text


def test_lock_graph_cycles(reports):
    text = render_text(reports["lock-graph"])
    assert "lock-order graph: 5 edges, 2 cycles:" in text
    assert "invisible to lockdep" in text and "lockdep would report it" in text


def test_long_names_wrap(reports):
    text = render_text(reports["long-names"])
    assert max(len(x) for x in text.splitlines()) <= 80
    assert "*** DEADLOCK ***" in text


@pytest.mark.parametrize("cmd", [
    "pcilock replay seed-000 --kernel v7.2 --schedule p1:0.1",
    "pcilock replay seed-000 --kernel v7.2+nechita-v14 --schedule p1:" + ".".join(["0x3", "1", "2"] * 40),
    "pcilock replay " + "s" * 100 + " --kernel v7.2 --schedule p1:0",
])
def test_command_lines_paste_back_into_a_shell(cmd):
    lines = command_lines(cmd)
    assert all(len(x) <= 80 for x in lines)
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to check the line continuations")
    script = "set -- " + "\n".join(lines).lstrip() + '\nprintf "%s\\n" "$@"'
    out = subprocess.run([bash, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:-1] == cmd.split(" ")
