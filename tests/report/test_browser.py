"""The HTML report in a real browser (Debian's headless Chromium), offline."""

from __future__ import annotations

import os

import pytest

from pcilock.report import render_html, write_atomic

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        yield b
        b.close()


def open_report(browser, report, tmp_path):
    path = tmp_path / "report.html"
    write_atomic(path, render_html(report))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    attempted, errors = [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            attempted.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("request", lambda req: None if req.url.startswith("file://") else attempted.append(req.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    return page, attempted, errors


def test_swimlanes_cycle_and_call_chain(browser, reports, tmp_path):
    r = reports["deadlock"]
    v = r["violations"][0]
    page, attempted, errors = open_report(browser, r, tmp_path)
    try:
        assert page.locator(".lane").count() == len(v["tasks"])
        assert page.locator(".lane[data-task='remove']").count() == 1
        assert page.locator(".cycle").count() > 0
        assert page.locator(".hold.cycle").count() == 2
        panel = page.locator("#callchain")
        assert "remove_store" not in panel.inner_text()
        page.locator(".lane[data-task='remove'] .event[data-step='0']").click()
        text = panel.inner_text()
        for func in ("remove_store", "pci_stop_and_remove_bus_device_locked", "pci_lock_rescan_remove"):
            assert func in text
        assert "drivers/pci/pci-sysfs.c" in text
        page.locator(".lane[data-task='sriov'] .event.pending").click()
        text = panel.inner_text()
        assert "sriov_numvfs_store" in text and "pci_lock_rescan_remove" in text
        assert "holds: &dev->mutex 0000:01:00.0" in text
        page.screenshot(path=str(tmp_path / "deadlock.png"), full_page=True)
        assert (tmp_path / "deadlock.png").stat().st_size > 0
    finally:
        page.close()
    assert attempted == [], f"the report tried to reach the network: {attempted}"
    assert errors == []


def test_hostile_title_stays_text(browser, reports, tmp_path):
    page, attempted, errors = open_report(browser, reports["xss"], tmp_path)
    try:
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        assert "<script>alert('x')</script>" in page.locator("table.kv").inner_text()
        page.locator(".event").first.click()
        assert dialogs == []
        assert page.locator("#callchain .frames li").count() > 0
    finally:
        page.close()
    assert attempted == [] and errors == []
