"""End to end, run folders (harness: ``dashboard_harness.py``): a server opens the results folder of a
short notMNIST 784-10 run; the page shows the run's recorded curves, fast-forwards 1,000 steps in the
vectorised backend, takes one agent step, and its state digests equal a vectorised run's straight to
that step. ``dashboard RUN RUN RUN`` overlays three folders, exports their values and follows a run
that grows. The notMNIST test skips outside CI when the data sample is missing; under CI=true it fails.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from dashboard_harness import (
    assert_only_loopback,
    check_prerequisites,
    chromium_page,
    click_until,
    dashboard_server,
    run_attribute,
    step_number,
    wait_for,
)

# --- a results folder: recorded curves, fast-forward, one agent step -----------------------------------------------
RUN_ITERATIONS, FAST_FORWARD = 300, 1000


REFERENCE = """
import sys
from synapse_sim import Scenario, VectorEngine
from synapse_sim.dashboard.run_folder import state_digest, weights_digest
engine = VectorEngine(Scenario.load(sys.argv[1]))
engine.run(int(sys.argv[2]))
print(weights_digest(engine.population.weights), state_digest(engine.checkpoint()))
"""


@pytest.fixture(scope="module")
def ocr_run(notmnist_path, tmp_path_factory):
    """A 300-step synaptic-RL run of a 784-10 network on the notMNIST sample (about 2 s)."""
    from synapse_sim import Scenario
    from synapse_sim.runner import run

    check_prerequisites()
    scenario = Scenario.load("notmnist_0hu").with_overrides(
        {
            "task.data": str(notmnist_path),
            "task.batch_size": 500,
            "task.batch_interval": 500,
            "run.iterations": RUN_ITERATIONS,
            "run.validate_every": 100,
            "run.checkpoint_every": 0,
        }
    )
    folder = tmp_path_factory.mktemp("runs") / "notmnist_784_10"
    run(scenario, folder, progress=False)
    return folder


@pytest.fixture(scope="module")
def run_page(ocr_run, playwright_driver, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("dashboard-run") / "server.log"
    with dashboard_server([str(ocr_run)], log_path) as url:
        with chromium_page(playwright_driver, url, tmp_path_factory.mktemp("chromium-run"), ".synsim-run") as opened:
            yield (*opened, log_path)


def test_dashboard_opens_a_notmnist_run_folder_fast_forwards_and_steps(run_page, ocr_run):
    page, requests, log_path = run_page
    try:
        check_run_page(page, ocr_run)
    except Exception as exc:
        raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
    assert_only_loopback(requests, log_path)


def check_run_page(page, folder: Path):
    # opened at the run's last checkpoint, its recorded history in the curves
    wait_for(lambda: run_attribute(page, "data-step") == str(RUN_ITERATIONS), what="the checkpoint's step")
    wait_for(lambda: step_number(page) == RUN_ITERATIONS, what="the step counter")
    assert run_attribute(page, "data-folder") == str(folder.resolve())
    assert f"from its checkpoint at step {RUN_ITERATIONS}" in page.locator(".synsim-run").first.inner_text()
    # the curves are other widgets than the run's; the browser may apply them a moment later
    source = page.locator(".synsim-curves-source").first
    wait_for(lambda: source.get_attribute("data-run-steps") == str(RUN_ITERATIONS), what="the curves' source")
    assert f"1-{RUN_ITERATIONS}: the run" in source.inner_text()
    curves = page.locator("svg.synsim-curves").first
    wait_for(lambda: curves.get_attribute("data-steps") == f"1-{RUN_ITERATIONS}", what="the run's curves")
    assert curves.locator("polyline").count() == 6 and curves.locator("rect.synsim-band").count() == 4
    assert curves.locator("circle.synsim-dot").count() == 3  # held-out accuracy at steps 100, 200, 300

    # a named tab, sliders that show their values
    tabs = [t.strip() for t in page.locator(".v-tab").all_text_contents()]
    assert tabs == ["agent view"], tabs
    heads = " | ".join(page.locator(".synsim-slider-head").all_inner_texts())
    for text in ("synaptic_rl: epsilon (exploration): 0.10", "synaptic_rl: gamma (discount): 0.90", "(ms): 10"):
        assert text in heads, heads

    # fast-forward 1,000 steps in the vectorised backend, then one agent step
    steps_box = page.get_by_label("fast-forward steps (vectorised backend)")
    assert steps_box.input_value() == str(FAST_FORWARD)
    forwarded = str(RUN_ITERATIONS + FAST_FORWARD)
    started = time.time()
    click_until(
        page,
        "Fast-forward",
        lambda: run_attribute(page, "data-step") == forwarded or page.locator(".synsim-ff-progress").count() > 0,
        "the fast-forward to start",
    )
    wait_for(lambda: run_attribute(page, "data-step") == forwarded, timeout=180, what=f"step {forwarded}")
    print(
        f"\nfast-forward of {FAST_FORWARD} steps (784-10, batch 500): in the page after {time.time() - started:.1f} s"
    )
    # the step counter is another widget; the browser may apply its update a moment later
    wait_for(lambda: step_number(page) == RUN_ITERATIONS + FAST_FORWARD, what="the step counter")
    final = str(RUN_ITERATIONS + FAST_FORWARD + 1)
    click_until(page, "Step", lambda: run_attribute(page, "data-step") == final, f"step {final}")
    wait_for(
        lambda: page.locator(".synsim-curves-source").first.get_attribute("data-agent-steps") == "1", what="curves"
    )
    source = page.locator(".synsim-curves-source").first
    assert source.get_attribute("data-fast-forward-steps") == str(FAST_FORWARD)
    assert source.get_attribute("data-last-step") == final

    # the agents' state equals a vectorised run straight to the same step (same BLAS settings as the server)
    from synapse_sim.dashboard.server import server_environment

    reference = subprocess.run(
        [sys.executable, "-c", REFERENCE, str(folder / "scenario.toml"), final],
        capture_output=True,
        text=True,
        env=server_environment(),
        check=True,
    ).stdout.split()
    assert run_attribute(page, "data-weights-sha256") == reference[0]
    assert run_attribute(page, "data-state-sha256") == reference[1]
    assert reference[0][:16] in page.locator(".synsim-run").first.inner_text()


def test_the_runs_page_overlays_three_run_folders_exports_their_values_and_follows_a_growing_run(
    playwright_driver, tmp_path
):
    """`dashboard RUN RUN RUN`: three labelled curves per panel, a table row per run, the CSV holds each
    run's recorded values, and a run that writes more is read again."""
    import csv as csv_module

    import numpy as np

    from synapse_sim import Scenario
    from synapse_sim.runner import run

    check_prerequisites()
    base = Scenario().with_overrides({"layers": [2, 6, 1], "n_points": 100, "iterations": 40})
    folders = []
    for seed in (0, 1, 2):
        folders.append(tmp_path / f"seed{seed}")
        run(base.with_overrides({"run.seed": seed}), folders[-1], progress=False)
    log_path = tmp_path / "server.log"
    with (
        dashboard_server([str(f) for f in folders], log_path) as url,
        chromium_page(playwright_driver, url, tmp_path / "profile", ready="svg.synsim-overlay") as (page, requests),
    ):
        try:
            overlay = page.locator("svg.synsim-overlay")
            assert overlay.get_attribute("data-runs") == "3"
            for panel in ("held-out accuracy", "loss", "reward", "keep"):
                curves = overlay.locator(f"g.synsim-panel[data-title='{panel}'] polyline.synsim-run-curve")
                assert curves.count() == 3, panel
            labels = [overlay.locator("g.synsim-run-label").nth(k).get_attribute("data-run") for k in range(3)]
            assert labels == ["seed0", "seed1", "seed2"]
            table_rows = page.locator("table.synsim-runs-table tr[data-run]")
            wait_for(lambda: table_rows.count() == 3, what="a table row per run")
            assert "run.seed" in page.locator("table.synsim-runs-table").inner_text()
            with page.expect_download() as download:
                page.get_by_text("CSV of the curves").click()
            rows = list(csv_module.DictReader(open(download.value.path())))
            for folder in folders:
                history = np.load(folder / "history.npz")
                mine = [r for r in rows if r["run"] == folder.name]
                assert [float(r["loss"]) for r in mine] == history["loss"].tolist()
                assert [int(r["step"]) for r in mine] == history["step"].tolist()
            with page.expect_download() as picture:
                page.get_by_text("PNG of the overlay").click()
            assert open(picture.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
            before = page.locator(".synsim-runs-source").get_attribute("data-version")
            run(None, folders[0], resume=True, sets=["run.iterations=80"], progress=False)  # the run writes more
            wait_for(
                lambda: page.locator(".synsim-runs-source").get_attribute("data-version") != before,
                what="the page to read the grown run",
            )
            wait_for(
                lambda: "80" in page.locator("table.synsim-runs-table tr[data-run='seed0']").inner_text(),
                what="the grown run's steps",
            )
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
    assert_only_loopback(requests, log_path)
