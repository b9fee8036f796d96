"""A lockstep population: K runs on one task instance, each layer's first product one for all,
every member equal to its run alone, bit for bit (synapse_sim.engine.lockstep_runs)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from synapse_sim import Scenario, ScenarioError
from synapse_sim.engine.lockstep_runs import LockstepRuns
from synapse_sim.tasks.base import first_products

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_population_golden import STEPS, fingerprint, members  # noqa: E402
from record_platform import golden_path, provenance_note  # noqa: E402

from synapse_sim.provenance import blas_threads  # noqa: E402


def assert_members_equal_their_runs_alone(name: str, golden_cache, data=None) -> None:
    """The population's every loss, reward and checkpoint array against each member's run alone
    (recorded by tests/golden/make_population_golden.py with the single-run path)."""
    path, threads = golden_path(f"population_{name}.npz", golden_cache)
    alone = dict(np.load(path))
    population = LockstepRuns(members(name, data))
    with blas_threads(threads):
        runs = population.run(STEPS)
    for k, (results, engine) in enumerate(zip(runs, population.engines, strict=True)):
        got = fingerprint(results, engine.checkpoint())
        assert sorted(got) == sorted(alone), k
        for key, value in got.items():
            assert value == alone[key][k], f"member {k}: {key} differs from its run alone; {provenance_note(path)}"


@pytest.mark.parametrize("orientation", ["columns", "rows"])
def test_the_first_layers_side_by_side_give_each_network_its_own_products(orientation):
    """Exact wherever used, on any BLAS: whether a shape's side-by-side product rounds like the
    separate ones is the kernel's choice (OpenBLAS's Haswell and SkylakeX kernels choose otherwise
    for many shapes), so each shape is compared on its first call and keeps separate products if not."""
    from synapse_sim.tasks.base import fusion_exact

    rng = np.random.default_rng(0)
    columns = orientation == "columns"
    cases = [(784, 10, 16, np.float32, 5000), (2, 100, 8, np.float64, 2000), (784, 32, 4, np.float32, 500)]
    cases += [(2, 100, 8, np.float64, 500), (784, 10, 4, np.float64, 500), (64, 10, 8, np.float64, 500)]
    for n_in, width, k, dtype, samples in cases:
        weights = [[rng.uniform(-0.1, 0.1, (n_in + 1, width)).astype(dtype)] for _ in range(k)]
        if columns:
            x = np.ones((n_in + 1, samples), dtype=dtype)
            x[:-1] = rng.standard_normal((n_in, samples))
            own = [w[0].T @ x for w in weights]
        else:
            x = rng.standard_normal((samples, n_in)).astype(dtype)
            own = [x @ w[0][:-1] for w in weights]
        for _ in range(2):  # the first call compares, the second uses what it found
            for mine, fused in zip(own, first_products(x, weights, columns), strict=True):
                np.testing.assert_array_equal(mine, fused)
        side_by_side = np.concatenate([w[0] for w in weights], axis=1)
        wide = side_by_side.T @ x if columns else x @ side_by_side[:-1]
        split = [
            wide[i * width : (i + 1) * width] if columns else wide[:, i * width : (i + 1) * width] for i in range(k)
        ]
        exact = all(np.array_equal(a, b) for a, b in zip(own, split, strict=True))
        assert fusion_exact(columns, x.shape, dtype, weights[0][0].shape, k) == exact
        for a, b in zip(own, split, strict=True):  # where they differ, by rounding, never more
            np.testing.assert_allclose(b, a, rtol=0, atol=(n_in + 1) * np.finfo(dtype).eps * np.max(np.abs(a)))


def test_a_shape_whose_side_by_side_product_rounds_otherwise_keeps_separate_products(monkeypatch):
    """The fallback itself, on any platform: a fused product 1 ulp off is found and never used."""
    from synapse_sim.tasks import base

    honest = base._side_by_side
    calls = []

    def one_ulp_off(x, weights_list, samples_in_columns):
        calls.append(len(weights_list))
        products = honest(x, weights_list, samples_in_columns)
        products[-1][0, 0] = np.nextafter(products[-1][0, 0], np.inf)
        return products

    monkeypatch.setattr(base, "_side_by_side", one_ulp_off)
    rng = np.random.default_rng(1)
    weights = [[rng.uniform(-0.1, 0.1, (4, 7))] for _ in range(3)]
    x = np.vstack([rng.standard_normal((3, 11)), np.ones((1, 11))])
    for _ in range(3):
        for w, got in zip(weights, first_products(x, weights, True), strict=True):
            np.testing.assert_array_equal(got, w[0].T @ x)
    assert base.fusion_exact(True, x.shape, x.dtype, (4, 7), 3) is False and calls == [3]


@pytest.mark.slow
def test_eight_decision_boundary_runs_in_lockstep_equal_their_runs_alone(golden_cache):
    assert_members_equal_their_runs_alone("decision_boundary", golden_cache)


@pytest.mark.slow
def test_four_notmnist_0hu_runs_in_lockstep_equal_their_runs_alone(notmnist_path, golden_cache):
    """The members differ by a rule hyperparameter (alpha_s); one split, one minibatch sequence."""
    assert_members_equal_their_runs_alone("notmnist_0hu", golden_cache, notmnist_path)


def batch_sizes(monkeypatch) -> list[int]:
    """The sizes of the decision-boundary evaluations done together from now on (a list that grows)."""
    from synapse_sim.tasks.boundary import DecisionBoundaryTask

    sizes = []
    original = DecisionBoundaryTask.evaluate_together

    def counting(self, items):
        sizes.append(len(items))
        return original(self, items)

    monkeypatch.setattr(DecisionBoundaryTask, "evaluate_together", counting)
    return sizes


def test_a_population_evaluates_its_members_together(monkeypatch):
    sizes = batch_sizes(monkeypatch)
    base = Scenario.load("decision_boundary_adaptive").with_overrides({"layers": [2, 20, 1]})
    population = LockstepRuns([base.with_overrides({"run.seed": seed}) for seed in range(4)])
    sizes.clear()
    population.run(5)
    assert sizes == [4] * 5


def test_members_that_cannot_share_one_task_are_refused_by_key():
    base = Scenario.load("decision_boundary_adaptive")
    with pytest.raises(ScenarioError, match=r"member 1 differs from member 0 in network\.layers"):
        LockstepRuns([base, base.with_overrides({"layers": [2, 50, 1]})])
    with pytest.raises(ScenarioError, match=r"member 2 differs from member 0 in task\.data_seed \(1 vs 0\)"):
        LockstepRuns([base, base, base.with_overrides({"task.data_seed": 1})])
    with pytest.raises(ScenarioError, match=r"member 1 differs from member 0 in task\.n_points \(500 vs 2000\)"):
        LockstepRuns([base, base.with_overrides({"task.n_points": 500})])
    control = Scenario().with_overrides({"task.name": "control", "run.method": "reinforce", "layers": [4, 8, 2]})
    with pytest.raises(ScenarioError, match="cannot be shared by runs in lockstep"):
        LockstepRuns([control, control])


def test_a_study_groups_runs_that_share_a_task_into_populations_with_the_same_results(tmp_path, monkeypatch):
    """As the learn-policy screen does: the candidates on one screen seed run as one population."""
    from synapse_sim.studies.jobs import Job, lockstep_groups, run_jobs, same_task

    base = Scenario.load("decision_boundary_static").with_overrides({"layers": [2, 20, 1], "run.iterations": 150})
    keys = [(a, b) for a in (0.01, 0.02, 0.03) for b in (0, 1)]  # candidate-major, as the screen's jobs

    def jobs(root):
        return [
            Job(base.with_overrides({"synapse.alpha_s": a, "run.seed": b, "task.data_seed": b}), root / f"{a}-{b}")
            for a, b in keys
        ]

    assert lockstep_groups(jobs(tmp_path), 3, same_task) == [[0, 2, 4], [1, 3, 5]]
    sizes = batch_sizes(monkeypatch)
    grouped = run_jobs(jobs(tmp_path / "grouped"), 1, lockstep=3, group_by=same_task)
    assert max(sizes) == 3
    one_by_one = run_jobs(jobs(tmp_path / "one"), 1)
    for (a, b), x, y in zip(keys, grouped, one_by_one, strict=True):
        assert x["final_loss"] == y["final_loss"] and x["steps"] == y["steps"] == 150
        with (
            np.load(tmp_path / "grouped" / f"{a}-{b}" / "checkpoint.npz") as p,
            np.load(tmp_path / "one" / f"{a}-{b}" / "checkpoint.npz") as q,
        ):
            np.testing.assert_array_equal(p["engine_weights"], q["engine_weights"])


@pytest.mark.parametrize("study", ["compare", "heldout"])
def test_rule_sweeps_and_heldout_studies_run_as_populations_with_the_same_results(tmp_path, monkeypatch, study):
    """A sweep over a rule hyperparameter (compare) and a held-out study of two state spaces: the
    runs that share a task are stepped together, and each result equals its run alone."""
    from synapse_sim.studies.compare import compare_jobs, run_compare
    from synapse_sim.studies.heldout import heldout_jobs, run_heldout
    from synapse_sim.studies.jobs import run_jobs

    base = Scenario.load("decision_boundary_static").with_overrides({"layers": [2, 20, 1]})
    if study == "compare":
        items = [base.with_overrides({"synapse.alpha_s": a, "run.name": f"a{a}"}) for a in (0.01, 0.02)]
        jobs = compare_jobs(items, [0, 1], tmp_path / "one", 120, 60)
    else:
        adaptive = Scenario.load("decision_boundary_adaptive").with_overrides({"layers": [2, 20, 1]})
        wider = adaptive.with_overrides(
            {"state.features": [{"name": "last_actions", "n": 2}, {"name": "last_rewards", "n": 1}]}
        )
        items = [adaptive.with_overrides({"run.name": "paper"}), wider.with_overrides({"run.name": "wider"})]
        jobs = [j for i, s in enumerate(items) for j in heldout_jobs(s, [5, 6], tmp_path / "one", 120, f"s{i}")]
    sizes = batch_sizes(monkeypatch)
    if study == "compare":
        _, grouped = run_compare(items, [0, 1], tmp_path / "grouped", 120, 60, processes=1)
    else:
        grouped = [
            s
            for i, scenario in enumerate(items)
            for s in run_heldout([scenario], [5, 6], tmp_path / f"g{i}", 120, processes=1)[1]
        ]
    assert max(sizes) > 1
    sizes.clear()
    one_by_one = run_jobs(jobs, 1)
    assert max(sizes) == 1
    assert [(s["final_loss"], s["steps"]) for s in grouped] == [(s["final_loss"], s["steps"]) for s in one_by_one]
    assert min(s["steps"] for s in grouped) >= 119  # 120 loss evaluations, or iterations
