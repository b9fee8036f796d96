"""End to end: the dashboard server, offline, in headless Chromium (harness: ``dashboard_harness.py``).

Opens the page, steps the model and plays it, and checks that the views follow; then switches the
learning rule to SPSA with the rule select and Reset, and checks that the views show SPSA; then to
Q-AGREL on the digits task, whose trials table and feedback pathway show after a step; a control
scenario's episodes, a plug-in feature, bad input refused, a reload keeping the run, and a scripted
action pattern in every raster row. Run folders: ``test_dashboard_e2e_runs.py``.

SYNAPSE_SIM_SCREENSHOT=PATH also saves a mid-run screenshot there (docs/dashboard.png).
"""

from __future__ import annotations

import hashlib
import os
import time

from dashboard_harness import (
    assert_only_loopback,
    check_prerequisites,
    choose,
    chromium_page,
    click_until,
    dashboard_server,
    press,
    step_number,
    type_into,
    wait_for,
)

from synapse_sim.dashboard import rule_views, views
from synapse_sim.dashboard.model import DashboardModel


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
    check_raster(page)

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
    assert rate >= 1.0, f"only {rate:.1f} rendered steps per second"  # it plays; its speed is benchmarked
    assert record["raster"] >= rendered // 2


def raster_pixels(page, newest: int = 1) -> dict:
    """The raster picture as the browser decoded it: its size, its size on screen, per synapse row the
    colour of the first column and of each of the ``newest`` last columns (``columns``, oldest first;
    ``newest``: the last one), with the newest actions the page says it drew."""
    return page.evaluate(
        """async (k) => {
        const img = document.querySelector('img.synsim-raster');
        const bitmap = await createImageBitmap(await (await fetch(img.src)).blob());
        const canvas = document.createElement('canvas');
        canvas.width = bitmap.width; canvas.height = bitmap.height;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(bitmap, 0, 0);
        const rows = parseInt(img.dataset.rows), top = bitmap.height - rows;
        const at = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
        const column = (x) => Array.from({length: rows}, (_, r) => at(x, top + r));
        const columns = [];
        for (let c = bitmap.width - k; c < bitmap.width; c++) columns.push(column(c));
        return {width: bitmap.width, height: bitmap.height, rows, shown: img.getBoundingClientRect().height,
                last: img.dataset.last, first: column(0), newest: columns[columns.length - 1], columns};
    }""",
        newest,
    )


def check_raster(page):
    """Every synapse of the 2-100-1 network has a row at least one screen pixel tall, drawn in the colour
    of its newest action; columns without data yet are in the no-data colour, which keep's differs from."""
    wait_for(lambda: len(page.locator("img.synsim-raster").get_attribute("data-last") or "") == 401, what="actions")
    pixels = raster_pixels(page)
    assert pixels["rows"] == 401 and pixels["shown"] >= pixels["height"]
    colours = [list(c) for c in views.ACTION_RGB]
    assert [colours[int(a)] for a in pixels["last"]] == pixels["newest"]
    assert len(set(pixels["last"])) >= 2  # more than one action among the rows (epsilon explores)
    assert all(c == list(views.NO_DATA_RGB) for c in pixels["first"]) and list(views.NO_DATA_RGB) != colours[1]
    # the pointer over a row names its synapse and step; a click opens it in the inspector
    box = page.locator("img.synsim-raster").bounding_box()
    row_height = box["height"] / pixels["height"]
    top = pixels["height"] - pixels["rows"]
    page.locator(".synsim-raster-scroll").evaluate("el => el.scrollTop = 0")
    y = box["y"] + (top + 5 + 0.5) * row_height
    page.mouse.move(box["x"] + box["width"] - 2, y)
    wait_for(
        lambda: (page.locator("img.synsim-raster").get_attribute("title") or "").startswith("sid 5, step "),
        what="the raster's hover text",
    )
    page.mouse.click(box["x"] + box["width"] - 2, y)
    wait_for(lambda: page.locator(".synsim-synapse[data-sid='5']").count() == 1, what="synapse 5 in the inspector")


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


GREEN_PIXELS = """() => {
    const canvas = document.querySelector('canvas.synsim-network');
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 1] > d[i] + 60 && d[i + 1] > d[i + 2] + 40) n++;
    return n;
}"""


def test_qagrel_on_digits_shows_the_trials_and_a_trials_feedback_pathway(browser, server):
    """Task digits, a 64-6-10 network and Q-AGREL by the controls; after one step the trials table, the
    selections per class and the chosen trial's feedback pathway (green on the canvas) show; the trial
    index moves the pathway."""
    page, requests = browser
    log_path = server[1]
    try:
        if page.get_by_role("button", name="❚❚", exact=True).count():
            press(page, "❚❚", becomes="▶")
        choose(page, "task", "digits")
        type_into(page, "hidden layers (e.g. 100 or 32, 16; empty: none)", "6")
        choose(page, "learning rule", "qagrel")
        page.get_by_role("button", name="Reset", exact=True).click()
        wait_for(lambda: page.locator(".synsim-status[data-rule='qagrel']").count() == 1, what="the Q-AGREL status")
        wait_for(lambda: step_number(page) == 0, what="the reset")
        assert "64-6-10 (460 synapses)" in page.locator(".synsim-status").first.inner_text()
        wait_for(lambda: page.locator(".synsim-no-trials").count() == 1, what="no trials before a step")
        assert page.evaluate(GREEN_PIXELS) == 0  # no pathway yet, and no edge colour passes for its green
        page.get_by_role("button", name="Step", exact=True).click()
        wait_for(lambda: step_number(page) == 1, what="step 1 under Q-AGREL")
        rows = page.locator("table.synsim-trials tr[data-trial]")
        wait_for(lambda: rows.count() == 20, what="the first 20 trials")
        assert "δ = r − q_s" in page.locator("table.synsim-trials").inner_text()
        bars = page.locator("svg.synsim-class-counts rect.synsim-count")
        wait_for(lambda: bars.count() == 30, what="the class counts")
        canvas = page.locator("canvas.synsim-network")
        for k in ("0", "9"):
            if k != "0":
                type_into(page, "trial index", k)
            note = page.locator(f".synsim-pathway-note[data-trial='{k}']")
            wait_for(lambda note=note: note.count() == 1, what=f"the pathway of trial {k}")
            synapses = note.get_attribute("data-synapses")
            wait_for(lambda s=synapses: canvas.get_attribute("data-pathway-synapses") == s, what="the drawn pathway")
            assert int(synapses) > 6
            chosen = page.locator(f"tr.synsim-chosen[data-trial='{k}']")
            wait_for(lambda chosen=chosen: chosen.count() == 1, what=f"trial {k} highlighted in the table")
            wait_for(lambda: page.evaluate(GREEN_PIXELS) > 200, what="the pathway in green on the canvas")
    except Exception as exc:
        raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
    assert_only_loopback(requests, log_path)


# --- a plug-in feature from the user's folder --------------------------------------------------------------------
def test_dashboard_runs_a_scenario_whose_feature_is_a_plugin_next_to_it(playwright_driver, tmp_path):
    """``synapse-sim dashboard drift.toml`` from the folder holding ``my_features.py``: the page shows the plug-in's
    states and steps with it."""
    check_prerequisites()
    from conftest import write_plugin_folder

    folder = tmp_path / "work"
    write_plugin_folder(folder)
    log_path = tmp_path / "server.log"
    env_path = os.environ.pop("PYTHONPATH", None)  # the plug-in comes from the scenario, not from the path
    try:
        with dashboard_server(["drift.toml"], log_path, cwd=folder) as url:
            with chromium_page(playwright_driver, url, tmp_path / "profile") as (page, requests):
                try:
                    page.wait_for_selector("img.synsim-qimg", timeout=20_000)
                    labels = page.locator(".synsim-qrow").all_inner_texts()
                    assert len(labels) == 27 and labels[0].startswith("drift-") and labels[-1].startswith("drift+")
                    step = page.get_by_role("button", name="Step", exact=True)
                    for expected in (1, 2):
                        step.click()
                        wait_for(lambda expected=expected: step_number(page) == expected, what=f"step {expected}")
                except Exception as exc:
                    raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
                assert_only_loopback(requests, log_path)
    finally:
        if env_path is not None:
            os.environ["PYTHONPATH"] = env_path


# --- a control task: the environment's frames and the return curve -----------------------------------------------
CONTROL_SCENARIO = """
[task]
name = "control"

[control]
env = "CartPole-v1"

[network]
layers = [4, 16, 2]
dtype = "float64"

[run]
method = "reinforce"
validate_every = 0
"""


def test_dashboard_steps_a_control_scenario_and_shows_the_episodes_frames_and_return(playwright_driver, tmp_path):
    """A CartPole-v1 scenario under REINFORCE: Step runs one episode; the environment view shows its frame (a
    PNG replayed from the episode), the time-step slider and the episode's length, the curves the return."""
    check_prerequisites()
    scenario = tmp_path / "cartpole_reinforce.toml"
    scenario.write_text(CONTROL_SCENARIO)
    log_path = tmp_path / "server.log"
    with dashboard_server([str(scenario)], log_path) as url:
        with chromium_page(playwright_driver, url, tmp_path / "profile") as (page, requests):
            try:
                wait_for(lambda: page.locator(".synsim-status[data-rule='reinforce']").count() == 1, what="status")
                wait_for(lambda: page.locator(".synsim-no-episode").count() == 1, what="no episode before a step")
                click_until(page, "Step", lambda: step_number(page) >= 1, "step 1")
                episode = page.locator(".synsim-episode[data-step='1']")
                wait_for(lambda: episode.count() == 1, what="the episode of step 1")
                length = int(episode.get_attribute("data-length"))
                assert length >= 8 and episode.get_attribute("data-time") == str(length)  # its last frame
                frame = page.locator("img.synsim-frame")
                wait_for(lambda: frame.count() == 1 and frame.get_attribute("src"), what="the frame")
                size = """async () => { const img = document.querySelector('img.synsim-frame');
                    if (!img) return [0, 0]; await img.decode(); return [img.naturalWidth, img.naturalHeight]; }"""
                wait_for(lambda: page.evaluate(size) == [600, 400], what="CartPole's 600 x 400 picture")
                returns = page.locator("svg.synsim-returns polyline[data-series='return']")
                wait_for(lambda: returns.count() == 1, what="the return curve")
                assert "episode return" in page.locator("svg.synsim-curves").first.inner_html()
                assert page.get_by_text("time step", exact=True).count() >= 1  # the slider's label
            except Exception as exc:
                raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
            assert_only_loopback(requests, log_path)


def test_the_page_shows_every_value_refuses_bad_input_runs_notmnist_and_keeps_its_run_on_reload(
    server, playwright_driver, tmp_path, notmnist_path
):
    """Sliders show their values; a reload keeps the run (the browser session's); a bad hidden-layer value
    is marked pending, then refused with a message, the controls showing what runs; notMNIST chosen
    on the page runs on the sample (found beside the checkout, or given by `dashboard --data DIR`)."""
    url, log_path = server
    with chromium_page(playwright_driver, url, tmp_path / "profile") as (page, requests):
        try:
            heads = page.locator(".synsim-slider-head")
            assert heads.count() >= 5
            for k in range(heads.count()):
                value = heads.nth(k).locator(".synsim-slider-value").inner_text().strip()
                assert value not in ("", "-"), heads.nth(k).inner_text()
                float(value)
            assert "Play Interval (ms): 10" in heads.first.inner_text()
            step = page.get_by_role("button", name="Step", exact=True)
            for expected in (1, 2):
                step.click()
                wait_for(lambda expected=expected: step_number(page) == expected, what=f"step {expected}")
            page.reload()
            page.wait_for_selector(".synsim-status", timeout=45_000)
            wait_for(lambda: step_number(page) == 2, what="the run's step count after a reload")

            hidden = "hidden layers (e.g. 100 or 32, 16; empty: none)"
            type_into(page, hidden, "-5")
            wait_for(lambda: "press Reset to apply" in page.locator(".synsim-pending").inner_text(), what="pending")
            assert "hidden" in page.locator(".synsim-pending").inner_text()
            page.get_by_role("button", name="Reset", exact=True).click()
            problem = page.locator(".synsim-problem")
            wait_for(lambda: problem.count() == 1, what="the refusal")
            assert "hidden layers '-5': sizes must be positive whole numbers" in problem.inner_text()
            assert "2-100-1" in page.locator(".synsim-status").first.inner_text()
            wait_for(lambda: page.get_by_label(hidden, exact=True).input_value() == "100", what="controls = model")
            wait_for(lambda: page.locator(".synsim-pending").inner_text().strip() == "", what="nothing pending")

            choose(page, "task", "notmnist")
            type_into(page, hidden, "")
            page.get_by_role("button", name="Reset", exact=True).click()
            status = page.locator(".synsim-status").first
            wait_for(lambda: "784-10 (7850 synapses)" in status.inner_text(), timeout=60, what="notMNIST 784-10")
            problems = page.locator(".synsim-problem")
            wait_for(lambda: problems.count() == 0, what="no problem (the sidebar redraws after the status line)")
            step.click()
            wait_for(lambda: step_number(page) == 1, timeout=60, what="a notMNIST step")
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
    assert_only_loopback(requests, log_path)


def test_the_raster_draws_a_scripted_action_pattern_in_every_row(playwright_driver, tmp_path):
    """A frozen policy on the last action alone that always takes the next action (epsilon 0): every
    synapse of 2-100-1 increments, decrements, keeps, increments ... from its initial 'keep'. Each of
    the 401 rows of the newest four columns must be drawn in exactly that colour."""
    import numpy as np

    from synapse_sim.rules.synaptic_rl.policy import Policy
    from synapse_sim.rules.synaptic_rl.state_space import StateSpace

    check_prerequisites()
    space = StateSpace.from_spec([{"name": "last_actions", "n": 1}])
    q = -np.ones((3, 3))
    q[np.arange(3), (np.arange(3) + 1) % 3] = 1.0  # greedy: the action after the last one
    Policy(space, q=q, adaptive=False).save(tmp_path / "cycle")
    scenario = tmp_path / "cycle.toml"
    scenario.write_text(
        '[state]\nfeatures = [{ name = "last_actions", n = 1 }]\n'
        f'[policy]\nmode = "static"\nfile = "{tmp_path / "cycle"}"\nepsilon = 0.0\n'
    )
    log_path = tmp_path / "server.log"
    with (
        dashboard_server([str(scenario)], log_path) as url,
        chromium_page(playwright_driver, url, tmp_path / "profile") as (page, requests),
    ):
        try:
            step = page.get_by_role("button", name="Step", exact=True)
            for expected in (1, 2, 3, 4):
                step.click()
                wait_for(lambda expected=expected: step_number(page) == expected, what=f"step {expected}")
            wait_for(lambda: raster_pixels(page)["newest"][0] == list(views.ACTION_RGB[2]), what="step 4's column")
            columns = raster_pixels(page, 4)
            assert columns["rows"] == 401 and columns["shown"] >= columns["height"]
            for column, action in zip(columns["columns"], (2, 0, 1, 2), strict=True):  # steps 1-4
                assert column == [list(views.ACTION_RGB[action])] * 401
        except Exception as exc:
            raise AssertionError(f"{exc}\n--- server log (tail) ---\n{log_path.read_text()[-3000:]}") from exc
    assert_only_loopback(requests, log_path)
