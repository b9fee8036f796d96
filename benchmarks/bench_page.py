"""Steps per second of the dashboard page in headless Chromium, next to the vectorised CLI's.

Starts the real dashboard server on loopback (``synapse-sim dashboard``), opens the page in
Chromium (Playwright, the Debian browser the tests use), sets the play interval to its least and
the render interval to 1 or 100 steps, presses Play for ``--seconds`` and counts the steps the
status line advanced; then times the same scenario's vectorised run in this process (one BLAS
thread, as the server runs). At 2-100-1
(the default scenario) and 784-10 (notMNIST, ``--data`` or the sample beside the checkout).

    .venv/bin/python benchmarks/bench_page.py [--seconds 15] [--data DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import limit_threads

from synapse_sim import Scenario, VectorEngine
from synapse_sim.locations import notmnist_sample

CHROMIUM = os.environ.get("SYNAPSE_SIM_CHROMIUM", "/usr/bin/chromium")


@contextlib.contextmanager
def dashboard(arguments: list[str]):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "synapse_sim", "dashboard", *arguments, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "readyz", timeout=2):
                    break
            if proc.poll() is not None:
                raise SystemExit(f"the dashboard did not start; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def step_number(page) -> int:
    return int(page.locator(".synsim-step").first.inner_text())


def set_slider(page, label: str, key: str) -> None:
    """Move the sidebar slider ``label`` to its least (``Home``) or greatest (``End``) value."""
    head = page.locator(".synsim-slider").filter(has=page.locator(".synsim-slider-label", has_text=label)).first
    head.locator('[role="slider"]').first.focus()
    page.keyboard.press(key)
    time.sleep(0.5)


def page_rate(driver, url: str, render: int, seconds: float, notmnist: bool) -> tuple[float, str]:
    """(steps per second while playing, the status line) with the render interval ``render`` (1 or 100)."""
    with tempfile.TemporaryDirectory() as profile:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector(".synsim-status", timeout=60_000)
            if notmnist:
                select = page.locator(".v-select").filter(has=page.locator("label", has_text="task")).first
                select.locator(".v-input__slot").click()
                page.locator(".menuable__content__active .v-list-item").filter(has_text="notmnist").first.click()
                page.get_by_label("hidden layers (e.g. 100 or 32, 16; empty: none)", exact=True).fill("")
                page.keyboard.press("Tab")
                page.get_by_role("button", name="Reset", exact=True).click()
                page.wait_for_function(
                    "() => document.querySelector('.synsim-status').innerText.includes('784-10')", timeout=60_000
                )
            set_slider(page, "Play Interval", "Home")
            set_slider(page, "Render Interval", "Home" if render == 1 else "End")
            start_step = step_number(page)
            page.get_by_role("button", name="▶", exact=True).click()
            started = time.perf_counter()
            time.sleep(seconds)
            page.get_by_role("button", name="❚❚", exact=True).click()
            elapsed = time.perf_counter() - started
            time.sleep(1.0)
            status = page.locator(".synsim-status").first.inner_text()
            return (step_number(page) - start_step) / elapsed, status
        finally:
            context.close()


def cli_rate(scenario: Scenario, steps: int) -> float:
    engine = VectorEngine(scenario)
    engine.run(5)
    start = time.perf_counter()
    engine.run(steps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="play time per measurement")
    parser.add_argument("--data", help="notMNIST data (default: $SYNAPSE_SIM_NOTMNIST or ../shared/data/notmnist)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data = args.data or notmnist_sample()
    rows = []
    with sync_playwright() as driver:
        with dashboard([]) as url:
            for render in (1, 100):
                rows.append(("2-100-1", render, *page_rate(driver, url, render, args.seconds, False)))
        if data:
            with dashboard(["--data", str(data)]) as url:
                for render in (1, 100):
                    rows.append(("784-10", render, *page_rate(driver, url, render, args.seconds, True)))
    limit_threads(1)  # as the dashboard's server runs (server_environment: one BLAS thread)
    cli = {"2-100-1": cli_rate(Scenario(), 2000)}
    if data:
        ocr = Scenario.load("notmnist_0hu").with_overrides({"task.data": str(data), "run.validate_every": 0})
        cli["784-10"] = cli_rate(ocr, 300)
    print(f"{'network':<10}{'render every':>14}{'page steps/s':>14}{'CLI steps/s':>13}{'page / CLI':>12}")
    for network, render, rate, _ in rows:
        print(f"{network:<10}{render:>14}{rate:>14.1f}{cli[network]:>13.1f}{rate / cli[network]:>12.2f}")
    if not data:
        print("784-10 rows skipped: no notMNIST data (pass --data DIR)")


if __name__ == "__main__":
    main()
