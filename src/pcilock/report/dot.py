"""The lock-order graph as Graphviz DOT (``dot -Tsvg F.dot > F.svg``).

Nodes are locks, labelled with the lock name and its lockdep class; an edge
``A -> B`` says some task acquired B while holding A.  Edges on a cycle are
red and bold; a cycle lockdep cannot see (for instance through the
``novalidate`` class of ``device_lock``) is drawn dashed.  When the report has
no lock-order cycle but a deadlock counterexample, the cycle of locks the
deadlocked tasks hold and wait for is drawn instead, so ``--dot`` always shows
the deadlock.  Output order is sorted, so the same report gives the same bytes.
"""

from __future__ import annotations


def render_dot(report):
    """Render the lock-order graph of *report* (from :func:`build_report`) as DOT."""
    lg = report.get("lock_graph") or {}
    cycles = list(lg.get("cycles") or [])
    derived = False
    if not cycles:
        cycles = _deadlock_cycles(report)
        derived = bool(cycles)
    nodes = {}  # name -> class
    edges = {}  # (held, acquired) -> {"cycle": bool, "visible": bool, "threads": [...]}
    for e in _extra_edges(lg):
        _edge(edges, nodes, e["held"], e["acquired"], e.get("thread"), None)
    for c in cycles:
        locks = [str(x) for x in c.get("locks") or []]
        classes = [str(x) for x in c.get("classes") or []]
        for i, name in enumerate(locks):
            nodes[name] = classes[i] if i < len(classes) else nodes.get(name)
        visible = bool(c.get("lockdep_visible", True))
        chains = c.get("chains") or []
        pairs = [(str(ch["held"]), str(ch["acquired"]), ch.get("thread")) for ch in chains
                 if "held" in ch and "acquired" in ch]
        if not pairs:
            pairs = [(locks[i], locks[(i + 1) % len(locks)], None) for i in range(len(locks))]
        for held, acquired, thread in pairs:
            _edge(edges, nodes, held, acquired, thread, visible)
    ids = {name: f"n{i}" for i, name in enumerate(sorted(nodes))}
    sc = report.get("scenario") or {}
    title = f"lock order: {sc.get('id') or sc.get('path') or 'scenario'} on {report.get('regime', '')}"
    if derived:
        title += " (from the deadlock counterexample)"
    lines = [
        "digraph lock_order {",
        f"  graph [label={_q(title)}, labelloc=t, fontname=\"monospace\", rankdir=LR];",
        "  node [shape=box, fontname=\"monospace\"];",
        "  edge [fontname=\"monospace\", fontsize=10];",
    ]
    for name in sorted(nodes):
        cls = nodes[name]
        label = _esc(name) + (f"\\nclass: {_esc(cls)}" if cls and cls != name else "")
        on_cycle = any(v["cycle"] and name in k for k, v in edges.items())
        style = ", color=red" if on_cycle else ""
        lines.append(f"  {ids[name]} [label=\"{label}\"{style}];")
    for (held, acquired) in sorted(edges):
        e = edges[(held, acquired)]
        attrs = []
        if e["threads"]:
            attrs.append(f"label={_q(', '.join(e['threads']))}")
        if e["cycle"]:
            attrs.append("color=red, penwidth=2")
            attrs.append('style="bold"' if e["visible"] else 'style="bold,dashed"')
            if not e["visible"]:
                attrs.append('tooltip="cycle invisible to lockdep"')
        tail = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {ids[held]} -> {ids[acquired]}{tail};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge(edges, nodes, held, acquired, thread, visible):
    held, acquired = str(held), str(acquired)
    nodes.setdefault(held, None)
    nodes.setdefault(acquired, None)
    e = edges.setdefault((held, acquired), {"cycle": False, "visible": False, "threads": []})
    if visible is not None:
        e["cycle"] = True
        e["visible"] = e["visible"] or visible
    if thread is not None and str(thread) not in e["threads"]:
        e["threads"].append(str(thread))
        e["threads"].sort()


def _extra_edges(lg):
    # the engine's graph may list every edge, not only those on cycles
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
