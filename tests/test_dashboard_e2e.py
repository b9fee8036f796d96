"""End to end: the dashboard server, offline, in headless Chromium.

Starts ``python -m synapse_sim.dashboard.server`` on a free loopback port with the CDN
pointed at an unreachable address (so a missing front-end file fails instead of being
fetched), opens the page in Debian's Chromium driven by Playwright, steps the model and
plays it, and checks that the views follow; then switches the learning rule to SPSA with the
rule select and Reset, and checks that the views show SPSA. Outside CI it skips when Chromium, Playwright
or the front-end assets are missing; under CI=true it fails instead.

SYNAPSE_SIM_SCREENSHOT=PATH also saves a mid-run screenshot there (docs/dashboard.png).
"""

from __future__ import annotations

import hashlib
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

from synapse_sim.dashboard import rule_views, views
from synapse_sim.dashboard.model import DashboardModel

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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    check_prerequisites()
    port = free_port()
    log_path = tmp_path_factory.mktemp("dashboard") / "server.log"
    env = {
        **os.environ,
        "SOLARA_ASSETS_CDN": UNREACHABLE_CDN,
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SYNAPSE_SIM_DASHBOARD_SCENARIO", None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "synapse_sim.dashboard.server", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
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
        yield url, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1420},
        )
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.goto(server[0])
        page.wait_for_selector(".synsim-status", timeout=45_000)
        yield page, requests
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


def raster_digest(page) -> str:
    """SHA-1 of the raster image's bytes, once two reads agree (solara may re-send an image after load)."""
    read = """async () => {
        const img = document.querySelector('img.synsim-raster');
        if (!img || !img.src) return '';
        const buffer = await (await fetch(img.src)).arrayBuffer();
        return Array.from(new Uint8Array(buffer)).join(',');
    }"""
    previous = None
    for _ in range(30):
        current = hashlib.sha1(page.evaluate(read).encode()).hexdigest()
        if current == previous:
            return current
        previous = current
        time.sleep(0.1)
    return previous


def curves_markup(page) -> str:
    return page.locator("svg.synsim-curves").first.inner_html()


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


def test_dashboard_renders_offline_steps_and_plays(browser, server, tmp_path):
    """One test (the page's state carries over): load, step, select a synapse, play, measure."""
    page, requests = browser
    log_path = server[1]
    try:
        check_page(page, tmp_path)
    except Exception as exc:
        raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
    assert_only_loopback(requests, log_path)


def check_page(page, tmp_path):
    for selector in (
        "canvas.synsim-network",
        "img.synsim-raster",
        "svg.synsim-curves",
        "img.synsim-qimg",
        "img.synsim-boundary",
        ".synsim-synapse",
    ):
        page.wait_for_selector(selector, timeout=20_000)
    start = step_number(page)
    assert start == 0
    raster_before, curves_before = raster_digest(page), curves_markup(page)

    # Step: the step count, a curve and the raster change
    step = page.get_by_role("button", name="Step", exact=True)
    for expected in (1, 2, 3):
        step.click()
        wait_for(lambda expected=expected: step_number(page) == expected, what=f"step {expected}")
    wait_for(lambda: curves_markup(page) != curves_before, what="the curves to change")
    wait_for(lambda: raster_digest(page) != raster_before, what="the raster to change")
    assert page.locator("svg.synsim-curves polyline").count() == 6

    # a click on an edge of the network selects that synapse in the inspector: the synapse from the
    # first hidden neuron to the output, near its start (no other edge is within a few pixels there)
    model = DashboardModel()
    sid = model.topology.sid(1, 0, 0)
    geometry = views.network_geometry(model.graph)
    x1, y1, x2, y2 = geometry.edges[sid]
    box = page.locator("canvas.synsim-network").bounding_box()
    scale = box["width"] / geometry.width
    page.mouse.click(box["x"] + (x1 + 0.15 * (x2 - x1)) * scale, box["y"] + (y1 + 0.15 * (y2 - y1)) * scale)
    wait_for(
        lambda: page.locator(f".synsim-synapse[data-sid='{sid}']").count() == 1, what=f"synapse {sid} in the inspector"
    )
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000

    # Play for a few seconds; count the steps whose status line and raster reached the browser
    page.evaluate(
        """() => {
        window.__synsim = {steps: [], raster: 0};
        new MutationObserver(() => {
            const el = document.querySelector('.synsim-step');
            const n = el ? parseInt(el.textContent) : NaN;
            const seen = window.__synsim.steps;
            if (!seen.length || seen[seen.length - 1][1] !== n) seen.push([performance.now(), n]);
        }).observe(document.querySelector('.synsim-network-view'),
                   {subtree: true, childList: true, characterData: true});
        new MutationObserver(() => { window.__synsim.raster += 1; })
            .observe(document.querySelector('img.synsim-raster'), {attributes: true, attributeFilter: ['src']});
    }"""
    )
    before_play = step_number(page)
    press(page, "▶", becomes="❚❚")
    time.sleep(4.0)
    target = os.environ.get("SYNAPSE_SIM_SCREENSHOT")
    if target:  # mid-run picture for the README
        page.screenshot(path=target, full_page=True)
    press(page, "❚❚", becomes="▶")
    wait_for(step.is_enabled, what="pause")
    record = page.evaluate("() => window.__synsim")
    seen = record["steps"]
    assert len(seen) >= 3, f"too few rendered steps while playing: {seen}"
    elapsed = (seen[-1][0] - seen[0][0]) / 1000
    rendered = len(seen) - 1
    rate = rendered / elapsed if elapsed > 0 else float("inf")
    print(
        f"\nplay: {step_number(page) - before_play} steps, {rendered} rendered step counts in {elapsed:.2f} s "
        f"= {rate:.1f} rendered steps/s; {record['raster']} raster updates"
    )
    assert rate >= 3.0, f"only {rate:.1f} rendered steps per second"
    assert record["raster"] >= rendered // 2


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


def test_rule_select_switches_the_page_to_spsa(browser, server):
    """The rule select + Reset rebuild the model under SPSA; the inspector then shows its perturbation."""
    page, requests = browser
    log_path = server[1]
    try:
        if page.get_by_role("button", name="❚❚", exact=True).count():
            press(page, "❚❚", becomes="▶")
        choose(page, "learning rule", "spsa")
        page.get_by_role("button", name="Reset", exact=True).click()
        wait_for(lambda: page.locator(".synsim-status[data-rule='spsa']").count() == 1, what="the SPSA status line")
        wait_for(lambda: step_number(page) == 0, what="the reset")
        page.get_by_role("button", name="Step", exact=True).click()
        wait_for(lambda: step_number(page) == 1, what="step 1 under SPSA")
        inspector = page.locator(".synsim-synapse[data-rule='spsa']")
        wait_for(lambda: "this step's Delta" in inspector.inner_text(), what="the SPSA memory in the inspector")
        text = inspector.inner_text()
        assert "memory: perturbation" in text and "weight change sign" in text
        assert "has no policy table" in page.locator(".synsim-rule-panel").inner_text()
        assert rule_views.SIGN_LEGEND in page.locator(".synsim-raster-view").inner_text()
    except Exception as exc:
        raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
    assert_only_loopback(requests, log_path)
