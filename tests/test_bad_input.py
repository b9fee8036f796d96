"""Bad input gives a clear error and loses nothing."""

import json
import sys

import numpy as np
import pytest
from conftest import small_scenario

from synapse_sim import Policy, StateSpace
from synapse_sim.runner import RunError, run
from synapse_sim.tasks import DecisionBoundaryTask
from synapse_sim.tasks.base import NonFiniteLossError, check_finite


class DivergingTask(DecisionBoundaryTask):
    """A decision-boundary task whose loss turns NaN from step 25 on (a diverged run)."""

    def evaluate(self, weights, step, need_activity=False):
        evaluation = super().evaluate(weights, step, need_activity)
        if step >= 25:
            evaluation.loss = check_finite(float("nan"), step)
        return evaluation


def test_nan_loss_stops_with_clear_error_and_keeps_last_checkpoint(tmp_path):
    scenario = small_scenario(iterations=100, checkpoint_every=10)
    task = DivergingTask(scenario["network"]["layers"], np.random.default_rng(0), n_points=50)
    with pytest.raises(RunError) as err:
        run(scenario, tmp_path / "r", progress=False, engine_kwargs={"task": task})
    message = str(err.value)
    assert "the loss became nan at step 25" in message and "synapse.alpha_s" in message
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"].startswith("failed")
    with np.load(tmp_path / "r" / "checkpoint.npz", allow_pickle=False) as data:
        assert int(data["engine_step"]) == 20
        assert np.all(np.isfinite(data["history_loss"])) and data["history_loss"].size == 20
    assert not list((tmp_path / "r").glob(".*.tmp"))


def test_nan_in_task_data_is_caught(tmp_path):
    from synapse_sim import VectorEngine

    engine = VectorEngine(small_scenario())
    engine.simulation.task.x[0, 0] = np.nan
    with pytest.raises(NonFiniteLossError, match="check the data for NaN"):
        engine.step()


def test_static_scenario_with_mismatched_policy(tmp_path):
    Policy(StateSpace.paper(n=1)).save(tmp_path / "short")
    scenario = small_scenario(**{"policy.mode": "static", "policy.file": str(tmp_path / "short")})
    with pytest.raises(ValueError, match=r"learned on state space .*9 states.*scenario uses .*81 states"):
        run(scenario, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_a_network_that_cannot_fit_is_refused_before_allocating(tmp_path):
    """layers = [2, 50000000, 1] would allocate gigabytes and die in NumPy; the CLI refuses it at once."""
    import subprocess
    import sys

    # the process reports its own peak memory as it exits: VmHWM, which starts afresh at exec (ru_maxrss
    # keeps the forking pytest worker's peak across exec, and the children's peak counts every earlier child)
    code = (
        "import atexit, re, sys; atexit.register(lambda: print('PEAK_KB', re.search(r'VmHWM:\\s+(\\d+)', "
        "open('/proc/self/status').read()).group(1), file=sys.stderr)); from synapse_sim.cli import main; "
        "sys.exit(main(['run', 'decision_boundary_adaptive', '--set', 'network.layers=[2, 50000000, 1]', '--quiet', "
        f"'--out', {str(tmp_path / 'out')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    peak_kb = int(result.stderr.rsplit("PEAK_KB", 1)[1].split()[0])
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr
    assert "needs about" in message and "200,000,001 synapses" in message and "available" in message
    assert "network.layers" in message and "task.n_points" in message
    assert "Traceback" not in message
    assert peak_kb < 500_000, f"the refusal itself used {peak_kb / 1000:.0f} MB"


def test_the_footprint_estimate_names_the_view_and_scales_with_the_network():
    from synapse_sim import Scenario
    from synapse_sim.engine.footprint import check_fits, estimate
    from synapse_sim.scenario import ScenarioError

    small = Scenario().with_overrides({"network.layers": [2, 100, 1], "task.n_points": 10})
    big = small.with_overrides({"network.layers": [2, 1000, 1]})
    assert estimate(big).total - estimate(big).history_bytes > 9 * (
        estimate(small).total - estimate(small).history_bytes
    )
    assert estimate(small, "agent").synapse_bytes > 10 * estimate(small, "vector").synapse_bytes
    assert check_fits(small, available=10**9).synapses == 401
    with pytest.raises(ScenarioError, match=r"in the agent view .* \(run.engine = 'vector'\)"):
        check_fits(small, "agent", available=estimate(small).total * 2)
    notmnist = Scenario().with_overrides({"task.name": "notmnist", "network.layers": [784, 10], "task.batch_size": 50})
    with pytest.raises(ScenarioError, match=r"task.batch_size"):
        check_fits(notmnist, available=1000)


# --- ties are wrong answers ---------------------------------------------------------------------------------------
def test_a_tie_for_the_largest_logit_counts_as_wrong():
    from synapse_sim.tasks.base import softmax_cross_entropy_examples

    logits_t = np.array([[3.0, 2.0, 0.0, 5.0], [1.0, 2.0, 0.0, 5.0], [0.0, 1.0, 0.0, 1.0]])  # classes x samples
    _, correct = softmax_cross_entropy_examples(logits_t, np.array([0, 1, 0, 0]))
    assert correct.tolist() == [True, False, False, False]  # ties: sample 1 (2 = 2), 2 (0 = 0 = 0), 3 (5 = 5)
    _, correct = softmax_cross_entropy_examples(logits_t, np.array([1, 0, 2, 1]))
    assert correct.tolist() == [False, False, False, False]


def test_all_zero_weights_score_zero_in_every_accuracy():
    """Equal logits read as accuracy 1.0 (issue #11): training, held-out and gradient-descent accuracy."""
    from conftest import random_classification_task

    from synapse_sim.baselines.gradient import evaluate, loss_and_gradients
    from synapse_sim.engine.topology import Topology

    task = random_classification_task(n_in=6, n_classes=4, n=80, batch_size=20)
    zeros = Topology.from_layers([6, 5, 4]).matrices(np.zeros(Topology.from_layers([6, 5, 4]).n_synapses))
    assert task.evaluate(zeros, 1).accuracy == 0.0
    assert task.evaluate(zeros, 1, trace=True).accuracy == 0.0
    assert task.validate(zeros)["accuracy"] == 0.0
    assert evaluate(zeros, task.x_val, task.y_val)[1] == 0.0
    assert loss_and_gradients(zeros, task.x_val, task.y_val).accuracy == 0.0
    loss, _ = evaluate(zeros, task.x_val, task.y_val)
    assert np.isclose(loss, np.log(4))  # chance loss

    boundary = DecisionBoundaryTask([2, 3, 1], np.random.default_rng(0), n_points=50)
    flat = np.zeros(Topology.from_layers([2, 3, 1]).n_synapses)
    assert 0 < boundary.y.mean() < 1
    assert boundary.evaluate(Topology.from_layers([2, 3, 1]).matrices(flat), 1).accuracy == 0.0  # z = 0: no side


def test_equal_logits_no_longer_fool_the_summary_or_the_early_stop(tmp_path, capsys):
    """notMNIST from all-zero weights with epsilon = 0: every synapse takes the same action, so the logits stay
    equal at every step. The summary said accuracy 1.0, first_step_accuracy_95 = 1, and the early stop passed."""
    from synapse_sim.cli import main

    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, images=rng.integers(0, 256, (40, 784), dtype=np.uint8), labels=np.arange(40) % 10)
    sets = {
        "network.init_range": 0.0,
        "policy.epsilon": 0.0,
        "policy.mode": "adaptive",
        "policy.file": '""',
        "task.batch_size": 10,
        "run.iterations": 4,
        "run.validate_every": 1,
        "run.early_stop_iteration": 3,
        "run.early_stop_accuracy": 0.05,
    }
    argv = ["run", "notmnist_0hu", "--data", str(data), "--out", str(tmp_path / "r"), "--quiet"]
    assert main([*argv, *(a for k, v in sets.items() for a in ("--set", f"{k}={v}"))]) == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["final_accuracy"] == 0.0 and summary["best_accuracy"] == 0.0
    assert summary["first_step_accuracy_95"] is None
    assert summary["final_validation_accuracy"] == 0.0
    assert summary["status"].startswith("stopped early") and summary["steps"] == 3


def test_gradient_descent_cannot_leave_all_zero_weights_through_a_hidden_layer():
    """Why a gradient-descent scenario with init_range = 0 and hidden layers is refused: only the output biases move."""
    from conftest import random_classification_task

    from synapse_sim.baselines.gradient import train_gradient_descent

    task = random_classification_task(n_in=6, n_classes=4, n=80)
    for activation in ("relu", "tanh", "identity"):
        zeros = [np.zeros((7, 5)), np.zeros((6, 4))]
        result = train_gradient_descent(
            zeros, task.x_train, task.y_train, task.x_val, task.y_val, max_epochs=30, hidden_activation=activation
        )
        w1, w2 = result.final_weights
        assert not w1.any() and not w2[:-1].any() and w2[-1].any(), activation


# --- ordinary mistakes from the command line: `error: ...`, exit 2, no traceback --------------------------------
@pytest.fixture
def npz_files(tmp_path):
    rng = np.random.default_rng(0)
    files = {}
    for name, shape in (("ok", (40, 784)), ("big", (40, 32, 32)), ("one", (1, 784))):
        files[name] = tmp_path / f"{name}.npz"
        images = rng.integers(0, 256, shape, dtype=np.uint8)
        np.savez(files[name], images=images, labels=np.arange(shape[0]) % 10)
    return files


BOUNDARY_RUN = ["decision_boundary_adaptive", "--iterations", "3", "--set", "task.n_points=20"]
NOTMNIST_RUN = ["notmnist_0hu", "--iterations", "3", "--set", "task.batch_size=10"]


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        ([*BOUNDARY_RUN, "--set", "network.layers=[3, 10, 1]"], ["network.layers must be [2, ..., 1]", "[3, 10, 1]"]),
        ([*NOTMNIST_RUN, "--data", "{ok}", "--set", "network.layers=[100, 10]"], ["network.layers = [100, 10]"]),
        ([*NOTMNIST_RUN, "--data", "{big}"], ["32x32 = 1,024 pixels", "must be [1024, ..., 10]"]),
        ([*NOTMNIST_RUN, "--data", "{one}"], ["task.validation_fraction = 0.25", "of 1 image(s)"]),
        ([*BOUNDARY_RUN, "--set", "task.extent=inf"], ["'task.extent' = inf is not a finite number"]),
        ([*BOUNDARY_RUN, "--set", "network.init_range=inf"], ["'network.init_range' = inf is not a finite number"]),
        ([*BOUNDARY_RUN, "--set", "task.target_range=inf"], ["'task.target_range' = inf is not a finite number"]),
        ([*BOUNDARY_RUN, "--set", "task.extent=1e308"], ["'task.extent' = 1e+308 is invalid", "<= 1000000.0"]),
        ([*BOUNDARY_RUN, "--set", "network.init_range=1e308"], ["'network.init_range' = 1e+308 is invalid"]),
        (
            ["notmnist_0hu_gd", "--data", "{ok}", "--set", "gradient.learning_rate=inf"],
            ["'gradient.learning_rate' = inf is not a finite number"],
        ),
        (
            [*BOUNDARY_RUN, "--set", 'state.features=[{name = "last_actions", n = 40}]'],
            ["'state.features': last_actions needs n <= 12", "got 40"],
        ),
        (
            [*BOUNDARY_RUN, "--set", "network.layers=[2, 3, 1]", "--set", "node_perturbation.sigma=1e308"],
            ["'node_perturbation.sigma' = 1e+308 is invalid"],
        ),
        (
            [
                "notmnist_0hu_gd",
                "--data",
                "{ok}",
                "--set",
                "network.init_range=0.0",
                "--set",
                "network.layers=[784, 8, 10]",
            ],
            ["'network.init_range' = 0 with hidden layers"],
        ),
    ],
    ids=[
        "boundary-layers",
        "notmnist-layers",
        "32x32-npz",
        "one-image",
        "extent-inf",
        "init-range-inf",
        "target-range-inf",
        "extent-1e308",
        "init-range-1e308",
        "gd-learning-rate-inf",
        "last-actions-40",
        "sigma-1e308-other-rule",
        "gd-zero-init",
    ],
)
def test_ordinary_mistakes_are_clear_errors(argv, fragments, npz_files, tmp_path, capsys):
    from synapse_sim.cli import main

    argv = [str(npz_files[a[1:-1]]) if a in ("{ok}", "{big}", "{one}") else a for a in argv]
    code = main(["run", *argv, "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and "traceback" not in err.lower()
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert not (tmp_path / "r" / "summary.json").exists()


def test_validate_every_on_the_boundary_task_runs_and_records_no_held_out_metrics(tmp_path, capsys):
    """It once ended in KeyError 'loss'. The task has no held-out data; compare and the dashboard rely on
    run.validate_every being accepted there (they set it for every rule), so it runs and records none."""
    from synapse_sim.cli import main

    argv = ["run", *BOUNDARY_RUN, "--set", "run.validate_every=1", "--out", str(tmp_path / "r"), "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "completed" and "final_validation_accuracy" not in summary
    with np.load(tmp_path / "r" / "history.npz") as history:
        assert history["validation_step"].size == 0


# --- the dashboard's port and server process ------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_port_out_of_range_is_a_clear_error_before_the_url(capsys, monkeypatch):
    from synapse_sim.cli import main
    from synapse_sim.dashboard import server

    def no_server(*args, **kwargs):
        raise AssertionError("the server must not start")

    monkeypatch.setattr(server.subprocess, "Popen", no_server)
    for port in ("99999", "0", "-1"):
        assert main(["dashboard", "--port", port]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith(f"error: --port {port}: a port is a whole number from 1 to 65535")
        assert "http://" not in captured.out


def test_a_busy_port_is_a_clear_error_before_the_url(capsys, monkeypatch):
    """The URL was printed, then solara failed on the port."""
    import socket

    from synapse_sim.cli import main
    from synapse_sim.dashboard import server

    monkeypatch.setattr(server.subprocess, "Popen", lambda *a, **k: pytest.fail("the server must not start"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert f"port {port} on 127.0.0.1 is already in use" in captured.err and "--port" in captured.err
    assert "http://" not in captured.out
    assert main(["dashboard", "--host", "name.invalid", "--port", str(free_port())]) == 2
    assert "--host name.invalid: not an address" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the server's death signal is Linux's prctl")
def test_kill_9_of_the_dashboard_stops_its_server(tmp_path):
    """`kill -9` of `synapse-sim dashboard` left its solara child serving the port."""
    import contextlib
    import os
    import signal
    import socket
    import subprocess
    import time
    from pathlib import Path

    def listening(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    port = free_port()
    env = {**os.environ, "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/", "SYNAPSE_SIM_HOME": str(tmp_path)}
    with open(tmp_path / "log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "synapse_sim", "dashboard", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    children = []
    try:
        deadline = time.time() + 120
        while not listening(port):
            assert proc.poll() is None, (tmp_path / "log").read_text()[-3000:]
            assert time.time() < deadline, "the dashboard did not start serving"
            time.sleep(0.2)
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert children, "the dashboard serves from a child process"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.time() + 10
        while listening(port) and time.time() < deadline:
            time.sleep(0.1)
        assert not listening(port), "the server child outlived `kill -9` of the dashboard"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in children:  # only if the test failed: do not leave a server behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_history_too_long_to_hold_is_refused_before_allocating():
    """run.iterations = 2**31 preallocates 8 float64 series of that length (137 GB): refused with the estimate."""
    from synapse_sim import Scenario
    from synapse_sim.engine.footprint import check_fits
    from synapse_sim.scenario import ScenarioError

    scenario = Scenario().with_overrides({"run.iterations": 2**31})
    with pytest.raises(ScenarioError, match=r"history: ~137\.4 GB.*run\.iterations"):
        check_fits(scenario, available=24 * 10**9)


def test_alpha_s_zero_cannot_learn_and_is_refused():
    from synapse_sim import Scenario
    from synapse_sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"synapse\.alpha_s' = 0"):
        Scenario().with_overrides({"synapse.alpha_s": 0.0})
    assert Scenario().with_overrides({"synapse.alpha_s": 0.0, "synapse.alpha_s_schedule": [[10, 0.001]]})
