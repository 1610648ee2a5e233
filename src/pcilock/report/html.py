"""The HTML report: one self-contained file, readable offline.

Jinja2 with autoescaping renders ``templates/report.html.j2``; the CSS and the
small script are inlined, and a Content-Security-Policy forbids every fetch
(``default-src 'none'``), so opening the file never touches the network.  The
script is allowed by its hash, not by ``'unsafe-inline'``: a name in a
scenario file can never become code.  Links from the scenario are made links
only when they are http(s) URLs.

Layout: verdict and statistics; for each counterexample the tasks table and
the swimlanes (one ``.lane`` per task, one row per step, ``.hold`` bars for
held locks, ``.cycle`` on what the deadlock cycle is made of); clicking an
``.event`` fills the ``#callchain`` side panel; then the lock-order graph.
"""

from __future__ import annotations

import base64
import hashlib
import math
from functools import lru_cache
from importlib import resources

import jinja2
from markupsafe import Markup

from .frames import frame_text
from .text import render_text
from .words import edge_count, headline, plural, run_line, verdict_line, violation_headline

ROW = 24  # px per step; keep in sync with --row in report.css
HOLD_W = 10  # px per nested hold bar


@lru_cache(maxsize=1)
def _env():
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pcilock.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


@lru_cache(maxsize=1)
def _assets():
    files = resources.files(__package__).joinpath("templates")
    css = files.joinpath("report.css").read_text(encoding="utf-8")
    js = files.joinpath("report.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    csp = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" + digest + "'; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    return css, js, csp


def render_html(report):
    """Render *report* (from :func:`build_report`) as one self-contained HTML page."""
    css, js, csp = _assets()
    views = [_violation_view(v, i) for i, v in enumerate(report["violations"])]
    sc = report["scenario"]
    ctx = {
        "r": report,
        "csp": csp,
        "css": Markup(css),
        "js": Markup(js),
        "headline": headline(report),
        "run_line": run_line(report),
        "verdict_line": verdict_line(report),
        "verdict_class": {"ok": "ok", "inconclusive": "unsure"}.get(report["verdict"], "bad"),
        "scenario_name": sc["id"] or sc["path"] or "scenario",
        "links": [_link(x) for x in sc["links"]],
        "extra_stats": _extra_stats(report["stats"]),
        "views": views,
        "lock_cycles": [_cycle_view(c) for c in report["lock_graph"].get("cycles") or []],
        "lock_graph_summary": _graph_summary(report["lock_graph"]),
        "text_report": render_text(report),
        "data": {"violations": [v["data"] for v in views]},
    }
    return _env().get_template("report.html.j2").render(ctx)


def _link(url):
    url = str(url)
    ok = url.startswith(("https://", "http://"))
    return {"href": url if ok else None, "text": url}


def _extra_stats(stats):
    out = []
    for key in ("complete_executions", "sleep_blocked", "traces", "max_depth"):
        if stats.get(key) is not None:
            out.append((key.replace("_", " "), stats[key]))
    return out


def _graph_summary(lg):
    cycles = lg.get("cycles") or []
    edges = edge_count(lg)
    if not cycles and not edges:
        return "No lock-order data in this report."
    return f"{plural(edges, 'edge')}, {plural(len(cycles), 'cycle')}." if cycles else \
        f"{plural(edges, 'edge')}, no cycle."


# -- one counterexample ----------------------------------------------------------------

def _violation_view(v, index):
    events = v["events"]
    row_of = {e["step"]: i for i, e in enumerate(events)}
    kind = v["kind"]
    waitfor = v["detail"].get("cycle" if kind == "deadlock" else "blocked") if kind in ("deadlock", "hang") \
        else None
    waitfor = waitfor if isinstance(waitfor, list) else []
    cycle_names = {w["thread"] for w in waitfor} if kind == "deadlock" else set()
    blocked = [t for t in v["tasks"] if t["state"] == "blocked" and t["pending_op"]]
    nrows = len(events) + (1 if blocked else 0)
    height = max(1, nrows) * ROW
    pending_data = {}
    lanes = []
    for t in v["tasks"]:
        lane_holds, slots = _lane_holds(v["holds"], t["tid"], row_of, nrows)
        pad = 6 + slots * HOLD_W
        lane_events = []
        for e in events:
            if e["tid"] != t["tid"]:
                continue
            where = frame_text(e["stack"][-1]) if e["stack"] else ""
            lane_events.append({"step": e["step"], "top": row_of[e["step"]] * ROW + 2, "label": e["op"],
                                "cycle": e.get("cycle", False), "pending": False,
                                "title": f"step {e['step']}: {e['op']}" + (f" at {where}" if where else "")})
        if t in blocked:
            label = f"blocked: {t['pending_op']}"
            lane_events.append({"step": f"pending-t{t['tid']}", "top": len(events) * ROW + 2, "label": label,
                                "cycle": t["name"] in cycle_names, "pending": True, "title": label})
            pending_data[t["name"]] = _item(f"{t['name']} (t{t['tid']}), blocked", t["pending_op"], t["held"],
                                            t["stack"], [], waits=_waits_text(t), pending=True)
        lanes.append({"name": t["name"], "tid": t["tid"], "state": t["state"], "involved": t["involved"],
                      "cycle": t["name"] in cycle_names, "holds": lane_holds, "events": lane_events,
                      "pad": pad, "held_text": _held_text(t["held"])})
    stepnos = [{"top": i * ROW, "label": e["step"]} for i, e in enumerate(events)]
    if blocked:
        stepnos.append({"top": len(events) * ROW, "label": "end"})
    tasks = [dict(t, cycle=t["name"] in cycle_names, held_text=_held_text(t["held"]),
                  where=frame_text(t["stack"][-1]) if t["stack"] else "") for t in v["tasks"]]
    data = {
        "events": {str(e["step"]): _item(f"step {e['step']}: {e['thread']}", e["op"], e["held"], e["stack"],
                                         e["notes"]) for e in events},
        "pending": pending_data,
    }
    pre = v["preemptions"]
    return {
        "index": index, "kind": kind, "message": v["message"], "headline": violation_headline(v),
        "replay_command": v["replay_command"],
        "replay_note": (plural(pre, "preemption") if pre is not None else "preemptions unknown")
        + (", minimized" if v["minimized"] else ""),
        "waitfor": waitfor, "tasks": tasks, "lanes": lanes, "stepnos": stepnos, "height": height,
        "data": data,
    }


def _lane_holds(holds, tid, row_of, nrows):
    mine = [h for h in holds if h["tid"] == tid and h["from_step"] in row_of]
    ends = []  # per slot: last row used
    out = []
    for h in sorted(mine, key=lambda h: (row_of[h["from_step"]], h["lock"])):
        start = row_of[h["from_step"]]
        end = row_of.get(h["to_step"], nrows - 1) if h["to_step"] is not None else nrows - 1
        slot = next((i for i, last in enumerate(ends) if last < start), None)
        if slot is None:
            slot = len(ends)
            ends.append(end)
        else:
            ends[slot] = end
        until = f"step {h['to_step']}" if h["to_step"] is not None else "the end"
        mode = " (read)" if h["mode"] == "read" else ""
        out.append({"lock": h["lock"], "cycle": h["cycle"], "open": h["to_step"] is None,
                    "top": start * ROW + 3, "height": (end - start + 1) * ROW - 6, "left": 3 + slot * HOLD_W,
                    "title": f"holds {h['lock']}{mode} from step {h['from_step']} to {until}"})
    return out, len(ends)


def _item(title, op, held, stack, notes, waits=None, pending=False):
    return {"title": title, "op": op, "held": [h["name"] + (" (read)" if h["mode"] == "read" else "")
                                             for h in held],
            "stack": stack, "notes": notes, "waits": waits, "pending": pending}


def _held_text(held):
    return ", ".join(h["name"] + (" (read)" if h["mode"] == "read" else "") for h in held)


def _waits_text(t):
    text = f"waits for {t['waits_for'] or t['pending_op']}"
    if t["held_by"]:
        text += " held by " + ", ".join(t["held_by"])
    return text


# -- lock-order cycles -------------------------------------------------------------------

def _cycle_view(c):
    locks = [str(x) for x in c.get("locks") or []]
    chains = []
    for ch in c.get("chains") or []:
        chains.append({
            "held": ch.get("held"), "acquired": ch.get("acquired"), "thread": ch.get("thread"),
            "held_stack": [frame_text(f) for f in ch.get("held_stack") or [] if isinstance(f, dict)],
            "acquired_stack": [frame_text(f) for f in ch.get("acquired_stack") or [] if isinstance(f, dict)],
        })
    if not chains:
        chains = [{"held": locks[i], "acquired": locks[(i + 1) % len(locks)], "thread": None,
                   "held_stack": [], "acquired_stack": []} for i in range(len(locks))]
    return {"chain": " → ".join(locks + locks[:1]), "visible": bool(c.get("lockdep_visible")),
            "possible": c.get("deadlock_possible") is not False, "chains": chains,
            "svg": _svg(locks) if 1 < len(locks) <= 10 else None}


def _svg(locks):
    # the locks on a circle, each edge a slightly bent arc (so A->B and B->A stay apart)
    n = len(locks)
    radius = 50 + 12 * n
    width, height = 2 * radius + 440, 2 * radius + 60
    cx, cy = width / 2, height / 2
    pts = []
    for i in range(n):
        a = -math.pi / 2 + 2 * math.pi * i / n
        pts.append((cx + radius * math.cos(a), cy + radius * math.sin(a), a))
    nodes = []
    for (x, y, a), name in zip(pts, locks, strict=True):
        tx, ty = x + 10 * math.cos(a), y + 10 * math.sin(a) + 4
        anchor = "start" if math.cos(a) > 0.2 else ("end" if math.cos(a) < -0.2 else "middle")
        if anchor == "middle":
            ty += 8 if math.sin(a) > 0 else -6
        label = name if len(name) <= 32 else name[:31] + "…"
        nodes.append({"x": _r(x), "y": _r(y), "tx": _r(tx), "ty": _r(ty), "anchor": anchor, "label": label})
    edges = []
    for i in range(n):
        x1, y1, _ = pts[i]
        x2, y2, _ = pts[(i + 1) % n]
        d = math.hypot(x2 - x1, y2 - y1) or 1
        bend = (0.25 if n == 2 else 0.12) * d
        qx, qy = (x1 + x2) / 2 - bend * (y2 - y1) / d, (y1 + y2) / 2 + bend * (x2 - x1) / d
        sx, sy = _toward(x1, y1, qx, qy, 8)
        ex, ey = _toward(x2, y2, qx, qy, 9)
        edges.append({"d": f"M{_r(sx)},{_r(sy)} Q{_r(qx)},{_r(qy)} {_r(ex)},{_r(ey)}"})
    return {"width": _r(width), "height": _r(height), "nodes": nodes, "edges": edges}


def _toward(x, y, tx, ty, dist):
    d = math.hypot(tx - x, ty - y) or 1
    return x + dist * (tx - x) / d, y + dist * (ty - y) / d


def _r(x):
    return round(x, 1)
