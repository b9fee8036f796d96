"""The browser harness of the dashboard's end-to-end tests: a real dashboard server on a free loopback port
(the CDN pointed at an unreachable address, so a missing front-end file fails instead of being fetched),
headless Chromium driven by Playwright, and the waits and clicks that tolerate the page applying one
widget's update a moment after another's. Outside CI the tests skip when Chromium, Playwright or the
front-end assets are missing; under CI=true they fail instead."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("SYNAPSE_SIM_CHROMIUM", "/usr/bin/chromium")


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


UNREACHABLE_CDN = "http://127.0.0.1:9/npm/"  # the discard port: nothing answers


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"{reason} (CI=true: the end-to-end dashboard test must run; run scripts/setup_dashboard.sh --test)"
        )
    pytest.skip(reason)


def check_prerequisites() -> None:
    require(
        Path(CHROMIUM).is_file() or shutil.which(CHROMIUM) is not None,
        f"Chromium not found at {CHROMIUM} (scripts/setup_dashboard.sh --test installs Debian's chromium)",
    )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require(False, "the Python package playwright is not installed (pip install playwright; no browser download)")
    from synapse_sim.dashboard.assets import cache_dir, missing, pinned_assets

    absent = [a.spec for a in missing(pinned_assets(), cache_dir())]
    require(
        not absent, f"solara's front end is not in the local cache ({', '.join(absent)}): scripts/setup_dashboard.sh"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dashboard_server(arguments: list[str], log_path: Path, cwd: Path | None = None):
    """``python -m synapse_sim.dashboard.server ARGUMENTS`` on a free loopback port, offline; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "SOLARA_ASSETS_CDN": UNREACHABLE_CDN,
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SYNAPSE_SIM_DASHBOARD_SCENARIO", None)
    env.pop("SYNAPSE_SIM_DASHBOARD_RUN", None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "synapse_sim.dashboard.server", *arguments, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 45
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"dashboard server did not start (exit {proc.poll()}):\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def chromium_page(driver, url: str, profile: Path, ready: str = ".synsim-status"):
    """A page of headless Chromium on ``url`` once ``ready`` shows; yields (page, every URL it requested)."""
    context = driver.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1600, "height": 1420},
    )
    try:
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(ready, timeout=45_000)
        yield page, requests
    finally:
        context.close()


def step_number(page) -> int:
    return int(page.locator(".synsim-step").first.inner_text())


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def press(page, label: str, becomes: str, attempts: int = 3):
    """Click the button ``label`` until a button ``becomes`` shows.

    A click that lands while Solara re-renders the controls can be dropped (seen under CI load),
    so the click is repeated, never twice once the new label is there.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    target = page.get_by_role("button", name=becomes, exact=True)
    for _ in range(attempts):
        if target.count():
            return
        try:
            page.get_by_role("button", name=label, exact=True).click(timeout=10_000)
            target.wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    page_text = page.evaluate("() => document.body.innerText.slice(0, 2000)")
    raise AssertionError(
        f"the {label!r} button did not turn into {becomes!r} after {attempts} clicks; page:\n{page_text}"
    )


def assert_only_loopback(requests: list[str], log_path: Path) -> None:
    outside = []
    for url in requests:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            continue
        if parts.hostname not in LOCAL_HOSTS:
            outside.append(url)
    assert not outside, f"the page requested non-loopback URLs: {outside[:10]}"
    log = log_path.read_text()
    assert "Could not load URL" not in log, f"the server tried to fetch front-end files from the CDN:\n{log[-2000:]}"


def choose(page, label_start: str, item: str, attempts: int = 3) -> None:
    """Pick ``item`` in the sidebar's select whose label starts with ``label_start`` (a Vuetify v-select).

    The menu opens on a click; a click that lands while Solara re-renders the sidebar can be dropped,
    so opening and picking are repeated until the select shows the item.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    select = page.locator(".v-select").filter(has=page.locator("label", has_text=label_start)).first
    chosen = select.locator(".v-select__selection")
    for _ in range(attempts):
        if chosen.count() and chosen.first.inner_text().strip() == item:
            return
        try:
            select.locator(".v-input__slot").click(timeout=10_000)
            menu = page.locator(".menuable__content__active .v-list-item").filter(has_text=item)
            menu.first.click(timeout=10_000)
            wait_for(lambda: chosen.first.inner_text().strip() == item, timeout=10, what=f"{item} to be chosen")
            return
        except (PlaywrightTimeout, AssertionError):
            page.keyboard.press("Escape")
            continue
    raise AssertionError(f"could not choose {item!r} in the select {label_start!r}")


def type_into(page, label: str, text: str) -> None:
    """Type into the text field ``label`` and leave it (Solara applies a typed value on leaving the field)."""
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Tab")


def click_until(page, label: str, done, what: str, attempts: int = 3, wait: float = 20.0) -> None:
    """Click the button ``label`` until ``done()``; a click dropped during a re-render is repeated
    (never once ``done()`` holds: a second fast-forward would run 1,000 more steps)."""
    for _ in range(attempts):
        if done():
            return
        page.get_by_role("button", name=label, exact=True).click(timeout=10_000)
        try:
            wait_for(done, timeout=wait, what=what)
            return
        except AssertionError:
            continue
    raise AssertionError(f"clicking {label!r} did not lead to {what}")


def run_attribute(page, name: str) -> str:
    return page.locator(".synsim-run").first.get_attribute(name) or ""
