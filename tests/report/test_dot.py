"""The lock-order graph as DOT: well formed, escaped, cycles highlighted."""

from __future__ import annotations

import re
import shutil
import subprocess

import programs as P
import pytest
from cases import make_report

from pcilock.engine import Mutex, Program, Setup, ThreadSpec
from pcilock.engine.ops import lock, trylock, unlock
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
    assert sorted(labels.values()) == sorted([P.DEV + "\\nclass: &dev->mutex\\n(novalidate: lockdep blind)",
                                              P.RESCAN])
    assert all("color=red" in a for _, a in nodes.values())  # both locks are on the cycle
    assert [a for lbl, a in nodes.values() if lbl.startswith("&dev")][0].endswith('style="dashed"')
    assert len(edges) == 2
    for _, _, attrs in edges:
        assert "color=red" in attrs and 'style="bold,dashed"' in attrs
    funcs = sorted(re.search(r' label="([^"]*)"', a).group(1) for _, _, a in edges)
    assert funcs == ["device_lock", "pci_lock_rescan_remove"]  # the acquiring functions


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
    svg = subprocess.run(["dot", "-Tsvg"], input=render_dot(nested_report()), text=True, check=True,
                         capture_output=True).stdout
    assert svg.count('class="edge"') == 8


# -- every edge of the graph, not only the cycles ------------------------------------------

def nested_report():
    """Edges off any cycle (a chain, a trylock, a novalidate lock) plus one AB-BA cycle."""
    def setup():
        a, b, c = Mutex("a"), Mutex("b"), Mutex("c")
        d = Mutex("dev", lock_class="&dev->mutex", validate=False)
        t = Mutex("t")

        def take_bc():
            yield lock(c)
            yield unlock(c)

        def chain():
            yield lock(d)
            yield lock(a)
            yield lock(b)
            yield from take_bc()
            yield unlock(b)
            yield unlock(a)
            yield unlock(d)

        def other():
            yield lock(b)
            ok = yield trylock(t)
            if ok:
                yield unlock(t)
            yield lock(a)
            yield unlock(a)
            yield unlock(b)
        return Setup([ThreadSpec("chain", chain), ThreadSpec("other", other)])
    return make_report(P.explore(Program(setup, name="nested"), stop_on_first=False))


def test_every_edge_is_drawn_once_with_cycles_highlighted():
    r = nested_report()
    lg = r["lock_graph"]
    # d->a d->b d->c a->b a->c b->c (chain), b->t (trylock), b->a (other)
    assert lg["edges"] == 8 and len(lg["edge_list"]) == 8 and len(lg["cycles"]) == 1
    nodes, edges = parse(render_dot(r))
    name = {k: lbl.split("\\n")[0] for k, (lbl, _) in nodes.items()}
    drawn = {(name[a], name[b]): attrs for a, b, attrs in edges}
    assert len(drawn) == len(edges) == 8
    assert set(drawn) == {(e["held"], e["acquired"]) for e in lg["edge_list"]}
    red = sorted(k for k, a in drawn.items() if "color=red" in a)
    assert red == [("a", "b"), ("b", "a")]
    assert 'style="bold"' in drawn[("a", "b")]  # a cycle lockdep sees: solid
    assert 'style="dotted"' in drawn[("b", "t")]  # trylock only
    assert 'style="dashed"' in drawn[("dev", "a")]  # lockdep never sees device_lock
    assert drawn[("b", "c")].startswith('tooltip="c taken holding b in take_bc by chain"')
    assert "color=red" not in drawn[("a", "c")] and "style=" not in drawn[("a", "c")]
    assert sorted(name[k] for k, (_, a) in nodes.items() if "color=red" in a) == ["a", "b"]
    assert "8 edges" in render_dot(r)
    assert render_dot(nested_report()) == render_dot(r)  # deterministic


def test_report_without_edge_list_still_draws_its_cycles(reports):
    r = reports["lock-graph"]  # a hand-made graph: two cycles and a count, no edge_list
    _, edges = parse(render_dot(r))
    assert len(edges) == 4 and all("color=red" in a for _, _, a in edges)
