"""The web UI in a real browser (Debian's headless Chromium).

* While ``duralua run --ui`` serves the example shop: the list shows the demo's runs, a run
  page shows its timeline, a signal sent through the form reaches the workflow, which
  completes (a screenshot of that run page is saved under .artifacts/ui/).
* While ``duralua run --ui`` serves the processes example: the Services page (reached from the
  navigation) shows its counter service Running and the process behind it, with its
  registered name, and keeps itself up to date (a screenshot is saved under .artifacts/ui/).
* ``duralua ui``'s server over a database with a completed, a held and a waiting run:
  statuses, filters, the held reason and the non-determinism diff, and ids and payloads
  holding markup that stay inert text.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import chromium, require_browser, screenshot, texts, until

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"
PROCESSES = ROOT / "examples" / "processes"
OBS = Path(__file__).parent / "app"
DURALUA = Path(sys.executable).parent / "duralua"
XSS_ID = "xss<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
XSS_NOTE = {"html": "<script>document.title='pwned'</script><b onmouseover=\"document.title='pwned'\">bold</b>"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    with chromium() as driver:
        yield driver


def _cli(*args: str, cwd: Path) -> str:
    done = subprocess.run([str(DURALUA), *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextlib.contextmanager
def served_ui(app: Path, *args: str) -> Iterator[str]:
    """``duralua run APP --ui 127.0.0.1:0 ARGS...`` until the block ends; yields the UI's URL."""
    proc = subprocess.Popen([str(DURALUA), "run", str(app), "--ui", "127.0.0.1:0", *args], cwd=app,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "COLUMNS": "300"})  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr or []], daemon=True)
    reader.start()
    url = ""
    deadline = time.monotonic() + 30
    seen = []
    try:
        while not url and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                assert proc.poll() is None, "duralua run exited: " + "".join(seen)
                continue
            seen.append(line)
            if " UI on " in line:
                url = line.split(" UI on ", 1)[1].strip()
        assert url, "no UI address in: " + "".join(seen)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        proc.stderr.close()


@pytest.fixture(scope="module")
def shop_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``duralua run --ui`` serving a copy of the example shop, after its demo ran."""
    require_browser()
    app = tmp_path_factory.mktemp("shop") / "shop"
    shutil.copytree(SHOP, app)
    _cli("run", str(app), "--call", "app:demo", "--fast-forward", cwd=app)
    with served_ui(app, "--fast-forward") as url:
        yield url, app


def test_shop_demo_runs_timeline_and_a_signal_from_the_form(browser: Any, shop_ui: tuple[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    url, app = shop_ui
    _cli("workflow", "start", "app:approval_workflow", '{"id": 42, "total": 15, "customer_id": "ui"}',
         "--id", "ui-approval", "-d", str(app), cwd=app)  # fmt: skip
    browser.get(url + "/runs")
    until("the demo runs and the new one", lambda: len(browser.find_elements(By.CSS_SELECTOR, "tr.run")) >= 4)
    types = set(texts(browser, "tr.run td.type"))
    assert {"app:order_workflow", "app:saga_workflow", "app:approval_workflow"} <= types
    rows = {r.find_element(By.CSS_SELECTOR, "td.wid a").text: r.get_attribute("data-status")
            for r in browser.find_elements(By.CSS_SELECTOR, "tr.run")}  # fmt: skip
    assert rows["ui-approval"] == "running"
    assert list(rows.values()).count("completed") >= 3
    until("live refresh connected", lambda: "on" in (browser.find_element(By.ID, "live").get_attribute("class") or ""))

    browser.find_element(By.LINK_TEXT, "ui-approval").click()
    until("the run page", lambda: browser.find_element(By.ID, "run-status").text == "running")
    timeline = texts(browser, "#timeline li .what")
    assert timeline[0] == "Workflow started"
    browser.find_element(By.ID, "signal-topic").send_keys("approve")
    browser.find_element(By.ID, "signal-payload").send_keys('{"approved_by": "the UI test"}')
    browser.find_element(By.ID, "signal-send").click()
    alert = until("the confirmation dialog", lambda: browser.switch_to.alert)
    assert "ui-approval" in alert.text
    alert.accept()
    until("the flash", lambda: "signal approve sent" in browser.find_element(By.ID, "flash").text, driver=browser)
    until("the run to complete", lambda: browser.find_element(By.ID, "run-status").text == "completed")
    wanted = {"Signal approve received", "Workflow completed"}
    until("the timeline to show the signal", lambda: wanted <= set(texts(browser, "#timeline li .what")))
    assert "the UI test" in browser.find_element(By.ID, "result").text
    assert any(t.startswith("Activity app:charge_payment completed") for t in texts(browser, "#timeline li .what"))
    shot = screenshot(browser, "run-page.png")
    assert shot.stat().st_size > 10_000


def test_services_page_shows_the_running_service_and_its_process(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    app = tmp_path / "processes"
    shutil.copytree(PROCESSES, app)
    with served_ui(app) as url:
        browser.get(url + "/runs")
        browser.find_element(By.ID, "nav-services").click()
        row = until("the counter service", lambda: browser.find_element(
            By.CSS_SELECTOR, 'tr.service[data-service="demo:counter_service"]'), driver=browser)  # fmt: skip
        assert row.get_attribute("data-state") == "running"
        assert row.find_element(By.CSS_SELECTOR, ".status").text == "Running"
        assert browser.find_element(By.ID, "nav-services").get_attribute("aria-current") == "page"
        pid = row.find_element(By.CSS_SELECTOR, "td.pid").text
        assert pid.startswith("{") and "demo:procs" in pid
        process = browser.find_element(By.CSS_SELECTOR, "#processes-table tr.process")
        assert [c.text for c in process.find_elements(By.TAG_NAME, "td")] == [
            pid, "demo:counter", "demo:procs", "counter", "demo:counter_service"]  # fmt: skip
        # Processes come and go without lifecycle events: the page re-reads them by itself.
        until("a refresh of the page", lambda: browser.find_element(By.TAG_NAME, "body").get_attribute(
            "data-refreshed"), driver=browser)  # fmt: skip
        assert browser.find_element(By.CSS_SELECTOR, 'tr.service[data-service="demo:counter_service"]'
                                    ).get_attribute("data-state") == "running"  # fmt: skip
        shot = screenshot(browser, "services-page.png")
    assert shot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def obs_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """``duralua ui``'s server over a database with a completed, a held and a waiting run."""
    require_browser()
    from duralua import App
    from duralua.testing import WorkflowEnvironment
    from duralua.ui import start_ui

    db = tmp_path_factory.mktemp("obs") / "obs.db"

    async def fill() -> dict[str, str]:
        app = App(OBS, log=None, instruction_budget=2_000_000)
        async with WorkflowEnvironment(app, db=db) as env:
            await env.execute("obs:hello", "obs:worker", "ada", workflow_id=XSS_ID)
            await env.start("obs:runaway", "obs:worker", workflow_id="stuck")
            waiting = await env.start("obs:approval", "obs:worker", 1, workflow_id="waiting",
                                      options={"workflow.search_attributes": {"Customer": "ada", "Total": 30},
                                               "workflow.memo": {"note": "<i>memo</i>"}})  # fmt: skip
            await env.signal(waiting, "note", XSS_NOTE)
            await env.start("obs:hello", "obs:worker", "bob", workflow_id="changed")
            await env.idle()
        return {}

    asyncio.run(asyncio.wait_for(fill(), 60))
    # A run held by a code change, as the engine records it (the engine test makes one for real).
    import sqlite3

    conn = sqlite3.connect(db)
    reason = ("NondeterminismError: non-determinism in workflow task 2: history has #2 StartTimer, the code now "
              "produces #2 ScheduleActivity(obs:greet). The workflow code changed in a way that breaks runs in "
              "flight; gate the change with workflow.version() or restore the old code.")  # fmt: skip
    conn.execute("UPDATE runs SET status = 'held', reason = ?, close_ns = NULL WHERE workflow_id = 'changed'",
                 (reason,))  # fmt: skip
    conn.commit()
    conn.close()
    server = start_ui("127.0.0.1:0", db)
    try:
        yield server.url, {}
    finally:
        server.stop()


def test_list_statuses_filters_and_inert_markup(browser: Any, obs_ui: tuple[str, dict[str, str]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, _ = obs_ui
    browser.get(url + "/runs")
    rows = until("the runs", lambda: browser.find_elements(By.CSS_SELECTOR, "tr.run"))
    status = {r.find_element(By.CSS_SELECTOR, "td.wid a").text: r.get_attribute("data-status") for r in rows}
    assert status[XSS_ID] == "completed"  # the id is shown as text, markup and all
    assert status["stuck"] == "held" and status["waiting"] == "running" and status["changed"] == "held"
    assert browser.title.endswith("duralua") and "pwned" not in browser.title
    assert not browser.find_elements(By.CSS_SELECTOR, "td.wid img, td.wid script")

    Select(browser.find_element(By.ID, "f-status")).select_by_value("held")
    browser.find_element(By.ID, "f-apply").click()
    until("only held runs", lambda: set(texts(browser, "tr.run .status")) == {"held"})
    assert sorted(texts(browser, "tr.run td.wid a")) == ["changed", "stuck"]

    browser.get(url + "/runs")
    Select(browser.find_element(By.ID, "f-type")).select_by_value("obs:hello")
    browser.find_element(By.ID, "f-apply").click()
    until("only obs:hello", lambda: set(texts(browser, "tr.run td.type")) == {"obs:hello"})

    browser.get(url + "/runs")
    browser.find_element(By.ID, "f-search").send_keys("Customer=ada")
    browser.find_element(By.ID, "f-apply").click()
    until("the run with that attribute", lambda: texts(browser, "tr.run td.wid a") == ["waiting"])

    browser.get(url + "/runs?from=9999-01-01")
    until("no run in the future", lambda: "No runs match." in browser.find_element(By.ID, "runs-table").text)


def test_held_reason_diff_and_inert_payloads(browser: Any, obs_ui: tuple[str, dict[str, str]]) -> None:
    from selenium.webdriver.common.by import By

    url, _ = obs_ui
    browser.get(url + "/runs?status=held")
    browser.find_element(By.LINK_TEXT, "stuck").click()
    reason = until("the held reason", lambda: browser.find_element(By.ID, "held-reason").text)
    assert "instruction budget" in reason
    # Held in its first activation: nothing of it was committed, so there is no history yet.
    assert texts(browser, "#timeline li.muted") == ["No activation recorded yet."]

    browser.get(url + "/runs?status=held")
    browser.find_element(By.LINK_TEXT, "changed").click()
    diff = until("the diff", lambda: browser.find_element(By.ID, "held-diff").text)
    assert "#2 StartTimer" in diff and "#2 ScheduleActivity(obs:greet)" in diff
    assert any(t.startswith("Timer #2 started") for t in texts(browser, "#timeline li .what"))

    browser.get(url + "/workflows/waiting")
    until("the waiting run", lambda: browser.find_element(By.ID, "run-status").text == "running")
    details = " ".join(texts(browser, "#timeline li .detail"))
    assert "<script>document.title='pwned'</script>" in details  # shown, not run
    assert not browser.find_elements(By.CSS_SELECTOR, "#timeline b, #timeline script")
    assert "pwned" not in browser.title

    browser.get(url + "/workflows/" + urllib.parse.quote(XSS_ID, safe=""))
    title = until("the xss run", lambda: browser.find_element(By.ID, "run-title").text)
    assert title == XSS_ID and browser.title == f"{XSS_ID} · duralua"  # the scripts did not set it
    assert browser.find_element(By.ID, "result").text.count("hello") == 2
