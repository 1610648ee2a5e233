"""The lock-order graph as Graphviz DOT (``dot -Tsvg F.dot > F.svg``).

Nodes are lock instances, labelled with the lock name and its lockdep class;
an edge ``A -> B`` says some task acquired B while holding A.  Every edge of
the graph is drawn (the report's ``lock_graph.edge_list``), once per pair of
locks, its tooltip naming the functions that acquired B and the tasks.

Highlighting:

* an edge on a cycle is red and bold, labelled with the acquiring function;
  the locks of a cycle have a red, bold border;
* dashed is what lockdep cannot see: a lock of the ``novalidate`` class (such
  as ``device_lock``, also named so in its label), an edge with a
  ``novalidate`` end, a cycle lockdep could not report;
* dotted is an edge only ever taken by trylock (it cannot close a cycle).

When the report has no lock-order cycle but a deadlock counterexample, the
cycle of locks the deadlocked tasks hold and wait for is drawn red instead, so
``--dot`` always shows the deadlock.  Output order is sorted, so the same
report gives the same bytes.
"""

from __future__ import annotations

LEGEND = "red: on a cycle; dashed: invisible to lockdep; dotted: trylock only"


def render_dot(report):
    """Render the lock-order graph of *report* (from :func:`build_report`) as DOT."""
    lg = report.get("lock_graph") or {}
    cycles = list(lg.get("cycles") or [])
    derived = False
    if not cycles:
        cycles = _deadlock_cycles(report)
        derived = bool(cycles)
    nodes = {}  # name -> {"class": str | None, "validate": bool, "cycle": bool}
    edges = {}  # (held, acquired) -> {"cycle", "visible", "trylock", "threads", "functions"}
    for lock in lg.get("locks") or []:
        if isinstance(lock, dict) and "name" in lock:
            _node(nodes, lock["name"], lock.get("class"), lock.get("validate", True))
    for e in _edge_list(lg):
        threads = e.get("threads") or ([e["thread"]] if e.get("thread") is not None else [])
        _edge(edges, nodes, e["held"], e["acquired"], threads, e.get("functions") or [],
              bool(e.get("trylock", False)))
    for c in cycles:
        locks = [str(x) for x in c.get("locks") or []]
        classes = [str(x) for x in c.get("classes") or []]
        for i, name in enumerate(locks):
            _node(nodes, name, classes[i] if i < len(classes) else None, None)["cycle"] = True
        visible = bool(c.get("lockdep_visible", True))
        pairs = [(ch["held"], ch["acquired"], ch.get("thread"), ch.get("acquired_stack"))
                 for ch in c.get("chains") or [] if "held" in ch and "acquired" in ch]
        if not pairs:
            pairs = [(locks[i], locks[(i + 1) % len(locks)], None, None) for i in range(len(locks))]
        for held, acquired, thread, stack in pairs:
            e = _edge(edges, nodes, held, acquired, [thread] if thread is not None else [],
                      [_innermost(stack)] if _innermost(stack) else [], False)
            e["cycle"] = True
            e["visible"] = e["visible"] or visible
    ids = {name: f"n{i}" for i, name in enumerate(sorted(nodes))}
    sc = report.get("scenario") or {}
    title = f"lock order: {sc.get('id') or sc.get('path') or 'scenario'} on {report.get('regime', '')}"
    if derived:
        title += " (from the deadlock counterexample)"
    title += f"\n{len(edges)} edges; {LEGEND}"
    lines = [
        "digraph lock_order {",
        f"  graph [label={_q(title)}, labelloc=t, fontname=\"monospace\", rankdir=LR];",
        "  node [shape=box, fontname=\"monospace\"];",
        "  edge [fontname=\"monospace\", fontsize=10, color=gray30];",
    ]
    for name in sorted(nodes):
        n = nodes[name]
        label = _esc(name)
        if n["class"] and n["class"] != name:
            label += f"\\nclass: {_esc(n['class'])}"
        if not n["validate"]:
            label += "\\n(novalidate: lockdep blind)"
        attrs = []
        if n["cycle"]:
            attrs.append("color=red, penwidth=2")
        if not n["validate"]:
            attrs.append('style="dashed"')
        style = "".join(", " + a for a in attrs)
        lines.append(f"  {ids[name]} [label=\"{label}\"{style}];")
    for held, acquired in sorted(edges):
        e = edges[(held, acquired)]
        blind = not (nodes[held]["validate"] and nodes[acquired]["validate"])
        attrs = [f"tooltip={_q(_tooltip(held, acquired, e))}"]
        if e["cycle"]:
            if e["functions"]:
                attrs.append(f"label={_q(', '.join(e['functions']))}")
            attrs.append("color=red, penwidth=2")
            attrs.append('style="bold"' if e["visible"] else 'style="bold,dashed"')
        elif e["trylock"]:
            attrs.append('style="dotted"')
        elif blind:
            attrs.append('style="dashed"')
        lines.append(f"  {ids[held]} -> {ids[acquired]} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node(nodes, name, cls, validate):
    n = nodes.setdefault(str(name), {"class": None, "validate": True, "cycle": False})
    if cls and not n["class"]:
        n["class"] = str(cls)
    if validate is not None:
        n["validate"] = bool(validate)
    return n


def _edge(edges, nodes, held, acquired, threads, functions, trylock):
    held, acquired = str(held), str(acquired)
    _node(nodes, held, None, None)
    _node(nodes, acquired, None, None)
    e = edges.get((held, acquired))
    if e is None:
        e = edges[(held, acquired)] = {"cycle": False, "visible": False, "trylock": trylock,
                                       "threads": [], "functions": []}
    else:
        e["trylock"] = e["trylock"] and trylock
    for key, values in (("threads", threads), ("functions", functions)):
        for v in values:
            if str(v) not in e[key]:
                e[key].append(str(v))
    return e


def _tooltip(held, acquired, e):
    text = f"{acquired} taken holding {held}"
    if e["functions"]:
        text += f" in {', '.join(e['functions'])}"
    if e["threads"]:
        text += f" by {', '.join(sorted(e['threads']))}"
    if e["trylock"]:
        text += " (trylock)"
    if e["cycle"] and not e["visible"]:
        text += "; cycle invisible to lockdep"
    return text


def _innermost(stack):
    if not stack:
        return None
    fr = stack[-1]
    return fr.get("function") if isinstance(fr, dict) else fr[0]


def _edge_list(lg):
    # every edge of the graph (older reports had only the count in "edges")
    for key in ("edge_list", "edges"):
        val = lg.get(key)
        if isinstance(val, list):
            return [e for e in val if isinstance(e, dict) and "held" in e and "acquired" in e]
    return []


def _deadlock_cycles(report):
    out = []
    for v in report.get("violations") or []:
        if v.get("kind") != "deadlock":
            continue
        cyc = (v.get("detail") or {}).get("cycle") or []
        locks = [c["waits_for"] for c in cyc if c.get("waits_for")]
        if len(locks) != len(cyc) or not locks:
            continue
        # thread i holds what thread i-1 waits for, and waits for locks[i]
        chains = [{"held": locks[i - 1], "acquired": locks[i], "thread": cyc[i]["thread"]}
                  for i in range(len(locks))]
        out.append({"locks": locks, "classes": [], "lockdep_visible": True, "chains": chains})
    return out


def _esc(s):
    return str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")


def _q(s):
    return f'"{_esc(s)}"'
