"""The HTML report: self-contained, escaped, with swimlanes and a call-chain panel."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

from pcilock.report import render_html


class Page(HTMLParser):
    """Collects elements by class, attributes that load things, and script bodies."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []  # (tag, attrs dict)
        self.scripts = []  # (attrs, text)
        self._script = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag == "script":
            self._script = [a, ""]

    def handle_data(self, data):
        if self._script is not None:
            self._script[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append(tuple(self._script))
            self._script = None

    def with_class(self, cls):
        return [(t, a) for t, a in self.elements if cls in (a.get("class") or "").split()]


def parse(html):
    p = Page()
    p.feed(html)
    p.close()
    return p


def test_title_from_scenario_is_escaped(reports):
    html = render_html(reports["xss"])
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    page = parse(html)
    # only our two scripts: the data block and the code
    assert [a.get("type") for a, _ in page.scripts] == ["application/json", None]


def test_only_http_links_become_links():
    import programs as P
    from cases import make_report
    r = make_report(P.explore(P.independent()))
    r["scenario"]["links"] = ["javascript:alert(1)", "https://lore.kernel.org/x"]
    page = parse(render_html(r))
    hrefs = [a["href"] for t, a in page.elements if t == "a"]
    assert hrefs == ["https://lore.kernel.org/x"]


def test_self_contained(any_report):
    name, r = any_report
    html = render_html(r)
    page = parse(html)
    for tag, a in page.elements:
        assert tag not in ("link", "iframe", "img", "object", "embed"), (name, tag)
        assert "src" not in a, (name, tag, a)
        if tag == "a":
            assert a["href"].startswith(("https://", "http://")), a
    assert "@import" not in html and "url(http" not in html and "@font-face" not in html
    csp = next(a["content"] for t, a in page.elements if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp


def test_script_hash_matches_the_policy(reports):
    page = parse(render_html(reports["deadlock"]))
    csp = next(a["content"] for t, a in page.elements if a.get("http-equiv") == "Content-Security-Policy")
    (code,) = [text for a, text in page.scripts if a.get("type") is None]
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_swimlanes(reports):
    r = reports["deadlock"]
    page = parse(render_html(r))
    v = r["violations"][0]
    lanes = page.with_class("lane")
    assert [a["data-task"] for _, a in lanes] == [t["name"] for t in v["tasks"]]
    events = page.with_class("event")
    steps = [a["data-step"] for _, a in events if not a["data-step"].startswith("pending")]
    assert sorted(steps, key=int) == [str(e["step"]) for e in v["events"]]
    assert len(page.with_class("hold")) == len(v["holds"])
    cyc = page.with_class("cycle")
    assert any(t == "div" and "lane" in a["class"] for t, a in cyc)
    assert any("hold" in a["class"] for _, a in cyc)
    assert any("event" in a["class"] and "pending" in a["class"] for _, a in cyc)
    assert any(t == "li" for t, _ in cyc)  # the wait-for cycle / lock-graph edges
    assert [a for t, a in page.elements if a.get("id") == "callchain"]


def test_lock_graph_cycle_edges_listed(reports):
    page = parse(render_html(reports["lock-graph"]))
    edges = [a for t, a in page.with_class("cycle") if t == "li" and "edge" in a["class"]]
    assert len(edges) == 4  # two chains of the first cycle, two derived edges of the second
    assert len([a for _, a in page.with_class("lg-cycle") if "invisible" in a["class"]]) == 1


def test_embedded_data_has_the_call_chains(reports):
    page = parse(render_html(reports["deadlock"]))
    (data,) = [text for a, text in page.scripts if a.get("type") == "application/json"]
    d = json.loads(data)
    ev = d["violations"][0]["events"]["0"]
    assert ev["stack"][0]["function"] == "remove_store"
    pend = d["violations"][0]["pending"]["sriov"]
    assert [f["function"] for f in pend["stack"]][-1] == "pci_lock_rescan_remove"


def test_model_error_and_ok_pages(reports):
    html = render_html(reports["model-error"])
    assert "Model error" in html and "no such device 0000:02:00.0" in html
    html = render_html(reports["inconclusive"])
    assert "The space was not covered" in html
    assert not parse(render_html(reports["ok"])).with_class("lane")


def test_no_absolute_paths(any_report):
    import os

    import pcilock
    _, r = any_report
    html = render_html(r)
    assert os.path.dirname(os.path.dirname(os.path.abspath(pcilock.__file__))) not in html
    assert not re.search(r"/(home|root|tmp|work)/", html)
