"""The lock-order graph as DOT: well formed, escaped, cycles highlighted."""

from __future__ import annotations

import re
import shutil
import subprocess

import programs as P
import pytest

from pcilock.report import render_dot

NODE = re.compile(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r"^  (n\d+) -> (n\d+)(?: \[(.*)\])?;$")


def parse(text):
    """A small structural check of the DOT we write: one statement per line."""
    lines = text.splitlines()
    assert lines[0] == "digraph lock_order {" and lines[-1] == "}"
    assert text.count("{") == text.count("}")
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if line.startswith(("  graph ", "  node ", "  edge ")):
            continue
        m = NODE.match(line)
        if m:
            nodes[m.group(1)] = (m.group(2), m.group(3))
            continue
        m = EDGE.match(line)
        assert m, f"unexpected DOT line {line!r}"
        edges.append((m.group(1), m.group(2), m.group(3) or ""))
    for a, b, _ in edges:
        assert a in nodes and b in nodes
    return nodes, edges


def test_every_report_gives_wellformed_dot(any_report):
    _, r = any_report
    parse(render_dot(r))


def test_engine_cycle_is_red_and_dashed_when_lockdep_cannot_see_it(reports):
    nodes, edges = parse(render_dot(reports["deadlock"]))
    labels = {k: v[0] for k, v in nodes.items()}
    assert sorted(labels.values()) == sorted([P.DEV + "\\nclass: &dev->mutex", P.RESCAN])
    assert len(edges) == 2
    for _, _, attrs in edges:
        assert "color=red" in attrs and 'style="bold,dashed"' in attrs


def test_visible_and_invisible_cycles_and_escaping(reports):
    text = render_dot(reports["lock-graph"])
    nodes, edges = parse(text)
    assert any(lbl == 'odd \\"name\\"\\\\x\\nclass: odd' for lbl, _ in nodes.values())
    styles = sorted(a.split("style=")[1].split(",")[0] for _, _, a in edges if "style=" in a)
    assert '"bold"' in styles and '"bold' in styles  # one solid cycle, one dashed


def test_no_lock_graph_falls_back_to_the_deadlock_cycle(reports):
    r = dict(reports["deadlock3"], lock_graph={"cycles": [], "edges": 0})
    text = render_dot(r)
    nodes, edges = parse(text)
    assert len(nodes) == 3 and len(edges) == 3
    assert "(from the deadlock counterexample)" in text


def test_empty_graph(reports):
    nodes, edges = parse(render_dot(reports["ok"]))
    assert nodes == {} and edges == []


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_graphviz_accepts_it(reports, tmp_path):
    for name in ("deadlock", "lock-graph", "long-names"):
        subprocess.run(["dot", "-Tsvg", "-o", str(tmp_path / f"{name}.svg")], input=render_dot(reports[name]),
                       text=True, check=True)
