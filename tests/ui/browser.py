"""Debian's headless Chromium driven by Selenium through Debian's ChromeDriver (no browser
download at run time). Tests skip, saying why, only when Chromium is not installed (`make
browser` installs it; `make test` and `.ci/run` run that first)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path(os.environ.get("DURALUA_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("DURALUA_CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS = Path(os.environ.get("DURALUA_ARTIFACTS", Path(__file__).resolve().parents[2] / ".artifacts")) / "ui"
T = TypeVar("T")


def require_browser() -> None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} / ChromeDriver at {CHROMEDRIVER}: "
                    "`make browser` installs Debian's chromium and chromium-driver")  # fmt: skip
    pytest.importorskip("selenium", reason="selenium is in the dev extra: pip install -e '.[dev]'")


@contextmanager
def chromium() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="duralua-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--window-size=1280,1500",
        ):
            options.add_argument(arg)  # fmt: skip
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        driver.set_page_load_timeout(20)
        try:
            yield driver
        finally:
            driver.quit()


def until(what: str, probe: Callable[[], T | None], timeout: float = 15.0, driver: Any = None) -> T:
    """Poll ``probe`` until it returns something truthy (pages refresh themselves: elements go stale)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # stale elements while a live refresh swaps the fragment
            last = exc
        time.sleep(0.1)
    page = ""
    if driver is not None:
        try:
            page = f"; page {driver.current_url}: {driver.find_element('tag name', 'main').text[:1500]!r}"
        except Exception as exc:
            page = f"; page {driver.current_url} unreadable ({exc!r}): {driver.page_source[:1500]!r}"
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last!r})" if last else "") + page)


def texts(driver: Any, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [str(e.text) for e in driver.find_elements(By.CSS_SELECTOR, css)]


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path
