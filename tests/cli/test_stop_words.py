"""How a report words a run that stopped at the bounded strategy's preemption bound.

The CLI's bound (2) takes half a minute to reach on a catalogue scenario, so this builds the
report in process with bound 0."""

from pcilock.engine import explore
from pcilock.kernel import load_all
from pcilock.patches import parse_regime
from pcilock.report.build import build_report
from pcilock.report.text import render_text
from pcilock.scenarios.catalogue import resolve
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program


def test_bound_reached_names_the_bound_and_suggests_dpor():
    load_all()
    sc = load_scenario(resolve("seed-000-sriov-numvfs-vs-remove"))
    result = explore(make_program(sc, parse_regime("v7.2+nechita-v14")), "bounded", max_bound=0)
    st = result.stats
    assert (result.verdict, st.stop_reason.value, st.bound) == ("inconclusive", "bound", 0)
    report = build_report(scenario={"id": sc.id, "title": sc.title, "path": sc.path, "links": []},
                          regime="v7.2+nechita-v14", result=result, strategy="bounded", seed=0)
    text = " ".join(render_text(report).split())
    assert "(bounded, preemption bound 0 reached)" in text
    assert "the preemption bound (0) was reached before the space was covered" in text
    assert "not exhaustive" in text and "--strategy dpor" in text
    assert "--budget" not in text and "--executions" not in text
