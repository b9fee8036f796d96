"""Held-out success rates: runs on fresh seeds, counts, Wilson intervals, resumable folders, bad input."""

import csv
import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest

from synapse_sim import Scenario
from synapse_sim.studies.heldout import (
    extend_failures,
    longest_plateau,
    run_heldout,
    seed_rows,
    summary_rows,
    wilson,
    write_heldout,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [1000, 1001]


def small(name="decision_boundary_adaptive.toml") -> Scenario:
    return Scenario.load(ROOT / "scenarios" / name).with_overrides({"network.layers": [2, 10, 1], "task.n_points": 300})


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("heldout")
    jobs, summaries = run_heldout([small()], SEEDS, out, iterations=200, processes=1)
    return out, jobs, summaries


def test_the_study_runs_every_seed_in_its_own_folder(study):
    out, jobs, summaries = study
    assert [j.out_dir for j in jobs] == [out / "decision_boundary_adaptive" / f"seed{s}" for s in SEEDS]
    assert [s["steps"] for s in summaries] == [200, 200]
    assert [s["parameters"]["run"]["seed"] for s in summaries] == SEEDS
    assert {s["parameters"]["task"]["data_seed"] for s in summaries} == {0}, "the boundary stays fixed"


def test_successes_are_counted_against_the_history(study):
    _, jobs, summaries = study
    rows = seed_rows(jobs, summaries, 0.95, 200)
    best = [r["best"] for r in rows]
    for job, row in zip(jobs, rows, strict=True):
        with np.load(job.out_dir / "history.npz") as h:
            accuracy = h["accuracy"]
        assert row["best"] == accuracy.max() and row["final"] == accuracy[-1]
    # a threshold every run reaches, and one just above every run's best: known answers
    everyone, nobody = min(best), max(best) + 1e-9
    assert nobody <= 1, "the small runs must not be perfect for this test to mean anything"
    for threshold, expected in ((everyone, 2), (nobody, 0)):
        rows = seed_rows(jobs, summaries, threshold, 200)
        (summary,) = summary_rows(rows, threshold)
        assert summary["reached"] == expected and summary["runs"] == 2
        for job, row in zip(jobs, rows, strict=True):
            with np.load(job.out_dir / "history.npz") as h:
                hits = np.flatnonzero(h["accuracy"] >= threshold)
            assert row["reached_at"] == (int(hits[0]) + 1 if hits.size else None)
    # a budget shorter than the run only sees its first checks
    short = seed_rows(jobs, summaries, everyone, 50)
    assert all(r["reached_at"] is None or r["reached_at"] <= 50 for r in short)


def test_the_report_files(study):
    out, jobs, summaries = study
    rows = seed_rows(jobs, summaries, 0.95, 200)
    table = write_heldout(out, rows, 0.95, 200)
    assert table == (out / "heldout.md").read_text()
    assert "decision_boundary_adaptive" in table and "Wilson" in table and "95.9 %" in table
    parsed = list(csv.DictReader(io.StringIO((out / "heldout.csv").read_text())))
    assert [int(r["seed"]) for r in parsed] == SEEDS
    assert all(r["teacher_rays"] for r in parsed), "the boundary diagnosis is in every row"


def test_a_scenario_with_its_own_overrides_gets_its_own_folder(tmp_path):
    item = f"{ROOT / 'scenarios' / 'decision_boundary_static.toml'}@task.data_seed=0@network.layers=[2, 10, 1]"
    (job,), (summary,) = run_heldout([item + "@task.n_points=300"], [1000], tmp_path, iterations=20, processes=1)
    assert job.label == "decision_boundary_static@task.data_seed=0@network.layers=[2, 10, 1]@task.n_points=300"
    assert job.out_dir.parent.parent == tmp_path and "@" not in job.out_dir.parent.name
    assert summary["parameters"]["task"]["data_seed"] == 0 and summary["steps"] == 20


def test_a_second_call_reads_finished_runs_back(study):
    out, _, summaries = study
    history = out / "decision_boundary_adaptive" / "seed1000" / "history.npz"
    before = history.stat().st_mtime_ns
    _, again = run_heldout([small()], SEEDS, out, iterations=200, processes=1)
    assert [s["wall_time_s"] for s in again] == [s["wall_time_s"] for s in summaries]
    assert history.stat().st_mtime_ns == before


def test_a_failed_run_continued_is_one_longer_run(study, tmp_path):
    """400 = twice 200: the averaged table's window (the second half) starts after the steps done, so it stays exact."""
    out, jobs, summaries = study
    rows = seed_rows(jobs[:1], summaries[:1], 1.0, 200)
    assert rows[0]["reached_at"] is None
    extend_failures(jobs[:1], rows, out, 400, 1.0, processes=1)
    assert rows[0]["continued_to"] == 400 and rows[0]["reached_when_continued"] is None
    assert "continued to 400 it." in write_heldout(tmp_path, rows, 1.0, 200)
    longer = out / "extended400" / "decision_boundary_adaptive" / "seed1000"
    assert json.loads((longer / "summary.json").read_text())["steps"] == 400
    assert json.loads((jobs[0].out_dir / "summary.json").read_text())["steps"] == 200, "the original is kept"
    (direct,) = run_heldout([small()], [1000], tmp_path, iterations=400, processes=1)[0]
    with np.load(longer / "history.npz") as a, np.load(direct.out_dir / "history.npz") as b:
        np.testing.assert_array_equal(a["accuracy"], b["accuracy"])


def test_wilson_interval_on_known_values():
    low, high = wilson(16, 20)  # p = 0.8, n = 20: the textbook Wilson interval 0.584-0.919
    assert low == pytest.approx(0.5840, abs=1e-4) and high == pytest.approx(0.9193, abs=1e-4)
    assert wilson(0, 20)[0] == 0 and wilson(0, 20)[1] == pytest.approx(0.1611, abs=1e-4)
    assert wilson(20, 20)[1] == 1 and wilson(20, 20)[0] == pytest.approx(0.8389, abs=1e-4)
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_longest_plateau():
    accuracy = np.array([0.5, 0.6, 0.85, 0.855, 0.852, 0.858, 0.9, 0.97])
    length, level = longest_plateau(accuracy)
    assert length == 4 and level == pytest.approx(np.mean(accuracy[2:6]))


@pytest.mark.parametrize(
    ("seeds", "threshold", "message"),
    [([], 0.95, "no seeds"), ([1, 1], 0.95, "repeat"), ([1], 0.0, "not an accuracy"), ([1], 1.01, "not an accuracy")],
)
def test_bad_input_is_a_clear_error_before_any_run(tmp_path, seeds, threshold, message):
    with pytest.raises(ValueError, match=message):
        run_heldout([small()], seeds, tmp_path, iterations=10, threshold=threshold, processes=1)
    assert not any(tmp_path.iterdir()), "nothing ran"


def test_the_script_reports_bad_input(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("heldout_boundary", ROOT / "experiments" / "heldout_boundary.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--threshold", "1.5", "--out", str(tmp_path)]) == 2
    assert "threshold 1.5 is not an accuracy in (0, 1]" in capsys.readouterr().err
