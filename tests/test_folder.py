"""A results folder is owned by one run (issue #11): lock, manifest, inputs, exact averaged table,
what a run trained on, and advice that matches the folder's real state."""

import io
import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import small_scenario
from PIL import Image
from test_resume import assert_same_arrays, read_npz

from synapse_sim import Scenario
from synapse_sim.cli import main
from synapse_sim.rules.synaptic_rl.policy import SHIPPED_POLICY
from synapse_sim.runner import RunError, run
from synapse_sim.studies.experiments import Job, run_job
from synapse_sim.tasks import DecisionBoundaryTask
from synapse_sim.tasks.base import check_finite

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "scenarios" / "decision_boundary_adaptive.toml")


pytestmark = pytest.mark.usefixtures("user_home")  # a user folder of its own per test


def digests(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ----------------------------------------------------------------------- 1: inputs and others' files
def test_a_run_never_writes_over_its_input_policy(tmp_path, capsys, monkeypatch):
    """The issue's repro: the starting policy lives in --out; the run is refused and the policy kept."""
    monkeypatch.chdir(tmp_path)
    mypol = tmp_path / "mypol"
    mypol.mkdir()
    shutil.copyfile(SHIPPED_POLICY.with_suffix(".npz"), mypol / "policy.npz")
    shutil.copyfile(SHIPPED_POLICY.with_suffix(".json"), mypol / "policy.json")
    before = digests(mypol)
    args = ["run", ADAPTIVE, "--iterations", "50", "--set", "policy.file=mypol/policy", "--out", "mypol", "--quiet"]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "mypol/policy.npz is an input of this run (policy.file)" in err and "Traceback" not in err
    assert digests(mypol) == before, "nothing in the folder may change"


def test_a_run_never_replaces_files_it_did_not_write(tmp_path):
    scenario = small_scenario(iterations=10)
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "policy.json").write_text("{}")  # a user's file with a name the run would write
    with pytest.raises(RunError, match=r"holds policy.json, which this run did not write"):
        run(scenario, out, progress=False)
    assert (out / "policy.json").read_text() == "{}" and sorted(p.name for p in out.iterdir()) == [
        "notes.txt",
        "policy.json",
    ]
    (out / "policy.json").unlink()
    run(scenario, out, progress=False)  # unrelated files are left alone, not refused
    assert (out / "notes.txt").read_text() == "mine"
    manifest = json.loads((out / "manifest.json").read_text())
    assert "notes.txt" not in manifest["files"] and {"policy.npz", "checkpoint.npz"} <= manifest["files"].keys()


def test_a_resume_never_replaces_a_file_changed_since_the_run_wrote_it(tmp_path):
    scenario = small_scenario(iterations=40)
    out = tmp_path / "r"
    run(scenario, out, progress=False, interrupt_at=20)
    (out / "policy.npz").write_bytes(b"someone else's table")
    with pytest.raises(RunError, match=r"holds policy\.npz, which this run did not write"):
        run(None, out, resume=True, progress=False)
    assert (out / "policy.npz").read_bytes() == b"someone else's table"


def test_a_copied_folder_resumes_like_the_original(tmp_path):
    scenario = small_scenario(iterations=60, checkpoint_every=10)
    run(scenario, tmp_path / "r", progress=False, interrupt_at=30)
    shutil.copytree(tmp_path / "r", tmp_path / "copy")
    copied = run(None, tmp_path / "copy", resume=True, progress=False)
    assert copied["final_loss"] == run(None, tmp_path / "r", resume=True, progress=False)["final_loss"]


def test_a_process_killed_between_a_file_and_the_manifest_still_resumes(tmp_path):
    """The manifest records the hash about to be written first: a kill after the file is replaced but
    before the manifest is updated leaves a file the run still recognises as its own."""
    import hashlib

    scenario = small_scenario(iterations=60, checkpoint_every=10)
    run(scenario, tmp_path / "a", progress=False, interrupt_at=20)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    run(None, tmp_path / "b", resume=True, progress=False, interrupt_at=30)
    newer = (tmp_path / "b" / "checkpoint.npz").read_bytes()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    manifest["files"]["checkpoint.npz"]["pending"] = hashlib.sha256(newer).hexdigest()
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "a" / "checkpoint.npz").write_bytes(newer)  # the kill came right after this write
    summary = run(None, tmp_path / "a", resume=True, progress=False)
    assert summary["final_loss"] == run(scenario, tmp_path / "ref", progress=False)["final_loss"]


# ---------------------------------------------------------------------- 3: the averaged table
def test_extending_a_run_gives_the_averaged_policy_of_a_fresh_run(tmp_path):
    """400 -> 800 steps: policy.npz equals a fresh 800-step run's, and its label states 401..800."""
    scenario = small_scenario(iterations=400)
    run(scenario, tmp_path / "ext", progress=False)
    extended = run(None, tmp_path / "ext", resume=True, sets=["run.iterations=800"], progress=False)
    fresh = run(scenario.with_overrides({"run.iterations": 800}), tmp_path / "fresh", progress=False)
    assert extended["steps"] == fresh["steps"] == 800
    assert_same_arrays(read_npz(tmp_path / "ext" / "policy.npz"), read_npz(tmp_path / "fresh" / "policy.npz"))
    assert_same_arrays(read_npz(tmp_path / "ext" / "history.npz"), read_npz(tmp_path / "fresh" / "history.npz"))
    meta = json.loads((tmp_path / "ext" / "policy.json").read_text())
    assert meta["table"] == "mean of the Q table over steps 401..800" and meta["average_window"] == [401, 800]


def test_a_resume_that_would_misstate_the_averaged_window_is_refused(tmp_path):
    """Where the window would start inside the steps done (and not where the running sum starts),
    the resume is refused with the exact ways to continue; the suggested one matches a fresh run."""
    scenario = small_scenario(iterations=400)
    out = tmp_path / "r"
    run(scenario, out, progress=False)
    before = digests(out)
    with pytest.raises(RunError, match=r"would not be exact.*after step 300.*covers steps 201\.\.400") as err:
        run(None, out, resume=True, sets=["run.iterations=600"], progress=False)
    assert "run.iterations=N with N >= 800" in str(err.value)
    assert "policy.average_from=0.3333333333333333" in str(err.value)
    with pytest.raises(RunError, match=r"starts after step 120 \(policy.average_from = 0.3"):
        run(None, out, resume=True, sets=["policy.average_from=0.3"], progress=False)
    with pytest.raises(RunError, match=r"run.iterations = 300 is below the 400 steps"):
        run(None, out, resume=True, sets=["run.iterations=300"], progress=False)
    assert digests(out) == before, "a refused resume changes nothing"
    keep = ["run.iterations=600", "policy.average_from=0.3333333333333333"]
    run(None, out, resume=True, sets=keep, progress=False)
    fresh = scenario.with_overrides({"run.iterations": 600, "policy.average_from": 0.3333333333333333})
    run(fresh, tmp_path / "fresh", progress=False)
    assert_same_arrays(read_npz(out / "policy.npz"), read_npz(tmp_path / "fresh" / "policy.npz"))
    assert json.loads((out / "policy.json").read_text())["average_window"] == [201, 600]


def test_studies_never_reuse_a_run_of_another_length_or_a_mislabelled_table(tmp_path):
    """learn-policy / fig1 read back folders: a longer completed run is refused, a shorter one extended
    exactly, and an averaged table whose label misstates its window (older versions) is refused."""
    scenario = small_scenario(iterations=80)
    run(scenario, tmp_path / "r", progress=False)
    with pytest.raises(RunError, match=r"holds a completed run of 80 steps, longer than the 40"):
        run_job(Job(scenario.with_overrides({"run.iterations": 40}), tmp_path / "r"))
    longer = run_job(Job(scenario.with_overrides({"run.iterations": 160}), tmp_path / "r"))
    run(scenario.with_overrides({"run.iterations": 160}), tmp_path / "fresh", progress=False)
    assert longer["steps"] == 160
    assert_same_arrays(read_npz(tmp_path / "r" / "policy.npz"), read_npz(tmp_path / "fresh" / "policy.npz"))

    old = tmp_path / "old"  # what an older version left: 60 tables averaged, labelled as 40
    run(scenario.with_overrides({"policy.average_from": 0.25}), old, progress=False)
    meta = json.loads((old / "policy.json").read_text())
    meta["table"] = "mean of the Q table over steps 41..80"
    (old / "policy.json").write_text(json.dumps(meta))
    with pytest.raises(RunError, match=r"labels its table the mean over steps 41..80, but it averages 60 tables"):
        run_job(Job(scenario, old))


# ------------------------------------------------------------------ 4: data and scenario on resume
def _npz_data(path: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(path, images=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), labels=np.arange(n) % 10)
    return path


def _notmnist(data, **overrides) -> Scenario:
    return Scenario.load(ROOT / "scenarios" / "notmnist_0hu.toml").with_overrides(
        {"task.data": str(data), "run.iterations": 20, "run.checkpoint_every": 5, "run.validate_every": 10, **overrides}
    )


def test_resume_refuses_other_data_and_accepts_the_same_data_elsewhere(tmp_path):
    first = _npz_data(tmp_path / "a.npz", 200)
    fewer = _npz_data(tmp_path / "b.npz", 150)
    out = tmp_path / "r"
    run(_notmnist(first), out, progress=False, interrupt_at=10)
    with pytest.raises(RunError, match=r"on other data: the run trained on 200 images.*150 images.*50 fewer"):
        run(None, out, resume=True, sets=[f"task.data='{fewer}'"], progress=False)
    moved = tmp_path / "moved" / "a.npz"
    moved.parent.mkdir()
    shutil.move(first, moved)
    summary = run(None, out, resume=True, sets=[f"task.data='{moved}'"], progress=False)
    reference = run(_notmnist(moved), tmp_path / "reference", progress=False)
    assert summary["steps"] == 20 and summary["final_loss"] == reference["final_loss"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["data"]["images"] == 200 and len(manifest["inputs"]["data"]["sha256"]) == 64
    assert manifest["inputs"]["trained_on"]["train"] == 150 and manifest["inputs"]["trained_on"]["validation"] == 50


def test_resume_refuses_a_hand_edited_scenario_file(tmp_path):
    out = tmp_path / "r"
    run(small_scenario(iterations=40), out, progress=False, interrupt_at=20)
    text = (out / "scenario.toml").read_text()
    (out / "scenario.toml").write_text(text.replace("epsilon = 0.25", "epsilon = 0.5"))
    with pytest.raises(RunError, match=r"edited after the run wrote it \(policy.epsilon: 0.25 when the run wrote it"):
        run(None, out, resume=True, progress=False)
    with pytest.raises(RunError, match=r"edited after the run wrote it"):
        run_job(Job(small_scenario(iterations=40), out))
    (out / "scenario.toml").write_text(text)
    assert run(None, out, resume=True, progress=False)["parameters"]["policy"]["epsilon"] == 0.25


# ---------------------------------------------------------------------- 7: advice matches the state
class DivergingTask(DecisionBoundaryTask):
    """The loss turns NaN from step ``at`` on (the initial evaluation, before step 1, stays finite)."""

    at = 1
    calls = 0

    def evaluate(self, weights, step, need_activity=False, **kwargs):
        evaluation = super().evaluate(weights, step, need_activity)
        self.calls += 1
        if step >= self.at and self.calls > 1:
            evaluation.loss = check_finite(float("nan"), step)
        return evaluation


def _refusals(scenario, out) -> tuple[str, str]:
    with pytest.raises(RunError) as resume:
        run(None, out, resume=True, progress=False)
    with pytest.raises(RunError) as rerun:
        run(scenario, out, progress=False)
    return str(resume.value), str(rerun.value)


def test_recovery_advice_matches_the_folder(tmp_path):
    scenario = small_scenario(iterations=50, checkpoint_every=10)
    task = DivergingTask(scenario["network"]["layers"], np.random.default_rng(0), n_points=50)
    out = tmp_path / "step1"
    with pytest.raises(RunError) as failed:
        run(scenario, out, progress=False, engine_kwargs={"task": task})
    message = str(failed.value)
    assert "the loss became nan at step 1" in message and "there is nothing to resume" in message
    assert "checkpoint is intact" not in message and "checkpoint in the results folder" not in message
    resume, rerun = _refusals(scenario, out)
    for text in (resume, rerun):
        assert "no checkpoint" in text and "nothing to resume" in text and f"rm -r {out}" in text
    assert "pass --resume" not in rerun

    task.at = 25
    out = tmp_path / "step25"
    with pytest.raises(RunError, match=r"repeat the same steps from step 20 and fail the same way"):
        run(scenario, out, progress=False, engine_kwargs={"task": task})

    out = tmp_path / "corrupt"
    run(scenario, out, progress=False, interrupt_at=20)
    (out / "checkpoint.npz").write_bytes(b"garbage")
    resume, rerun = _refusals(scenario, out)
    for text in (resume, rerun):
        assert "corrupt or unreadable" in text and "it cannot be resumed; to start over, delete the folder" in text
    assert "rerun the scenario from the start" not in resume

    out = tmp_path / "no-key"  # a checkpoint missing an array of the rule
    run(scenario, out, progress=False, interrupt_at=20)
    arrays = read_npz(out / "checkpoint.npz")
    del arrays["engine_q_sum"]
    with open(out / "checkpoint.npz", "wb") as handle:
        np.savez(handle, **arrays)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["checkpoint.npz"]["sha256"] = (
        __import__("hashlib").sha256((out / "checkpoint.npz").read_bytes()).hexdigest()
    )
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunError, match=r"cannot be restored \(KeyError: 'q_sum'\); it cannot be resumed"):
        run(None, out, resume=True, progress=False)


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_step_0(tmp_path):
    scenario = small_scenario(iterations=30, checkpoint_every=0)
    out = tmp_path / "r"
    run(scenario, out, progress=False)
    (out / "checkpoint.npz").unlink()  # as if killed before any checkpoint
    (out / "summary.json").unlink()
    with pytest.raises(RunError, match=r"stopped before its first checkpoint\); --resume .* runs it again from step 0"):
        run(scenario, out, progress=False)
    again = run(None, out, resume=True, progress=False)
    assert again["steps"] == 30 and again["final_loss"] == run(scenario, tmp_path / "ref", progress=False)["final_loss"]


# -------------------------------------------------------------------------- 8: the smaller defects
def test_batch_size_beyond_the_data_is_recorded_as_effective(tmp_path, capsys):
    summary = run(_notmnist(_npz_data(tmp_path / "a.npz", 200), **{"task.batch_size": 1000}), tmp_path / "r")
    assert "task.batch_size = 1000 exceeds the 150 training examples" in capsys.readouterr().err
    assert summary["parameters"]["task"]["batch_size"] == 1000 and summary["effective"] == {"task.batch_size": 150}
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["effective"] == {"task.batch_size": 150}


def _png(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def test_skipped_images_are_shown_when_the_run_starts_and_saved(tmp_path, capsys):
    rng = np.random.default_rng(0)
    folder = tmp_path / "pngs"
    for letter in "ABCDEFGHIJ":
        (folder / letter).mkdir(parents=True)
        for i in range(4):
            (folder / letter / f"{i}.png").write_bytes(_png(rng.integers(0, 256, (28, 28), dtype=np.uint8)))
    (folder / "A" / "zz_empty.png").write_bytes(b"")
    (folder / "C" / "zz_broken.png").write_bytes(b"\x89PNG broken")
    summary = run(_notmnist(folder), tmp_path / "r", progress=False)
    err = capsys.readouterr().err
    assert "2 unreadable or empty image file(s)" in err and "A/zz_empty.png" in err and "C/zz_broken.png" in err
    saved = json.loads((tmp_path / "r" / "summary.json").read_text())["data"]
    assert summary["data"]["skipped"] == saved["skipped"] == 2 and saved["images"] == 40
    assert sorted(saved["skipped_files"]) == ["A/zz_empty.png", "C/zz_broken.png"]


def test_stale_temporary_files_are_cleaned_on_resume(tmp_path, capsys):
    out = tmp_path / "r"
    run(small_scenario(iterations=40), out, progress=False, interrupt_at=20)
    stale = [out / ".checkpoint.npz.abc123.tmp", out / ".summary.json.x9.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")  # what kill -9 during a write leaves
    (out / ".notes.txt.keep.tmp").write_bytes(b"not ours")
    run(None, out, resume=True, progress=False)
    assert not any(p.exists() for p in stale) and (out / ".notes.txt.keep.tmp").exists()
    assert "removed 2 unfinished temporary file(s)" in capsys.readouterr().err


def test_seeds_beyond_64_bits_are_refused(tmp_path, capsys):
    args = ["run", ADAPTIVE, "--seed", str(2**70), "--out", str(tmp_path / "r"), "--quiet"]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "'run.seed' = 1180591620717411303424" in err and "Traceback" not in err
    assert "is too large" in err or "<= 9223372036854775807" in err  # the runner's check, or the scenario's bound
    assert not (tmp_path / "r").exists()


def test_integers_beyond_64_bits_are_refused_by_the_runner_too(tmp_path):
    from synapse_sim.provenance import check_toml_integers

    scenario = small_scenario(iterations=5)
    scenario.data["run"]["seed"] = 2**70  # past the scenario's own checks
    with pytest.raises(RunError, match=r"'run.seed' = 1180591620717411303424 is too large"):
        check_toml_integers(scenario)
    with pytest.raises(RunError, match="is too large"):
        run(scenario, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_a_directory_given_as_the_scenario_is_explained(tmp_path, capsys):
    assert main(["run", str(tmp_path)]) == 2
    assert f"{tmp_path} is a directory, not a scenario" in capsys.readouterr().err
    out = tmp_path / "r"
    run(small_scenario(iterations=5), out, progress=False)
    assert main(["run", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is a results folder, not a scenario" in err and f"--resume {out}" in err and f"dashboard {out}" in err


# ----------------------------------------------------------------------------- 6: no tracebacks
def test_ordinary_mistakes_end_with_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    assert main(["run", ADAPTIVE, "--out", str(tmp_path / "file"), "--quiet"]) != 0
    assert "is a file, not a folder" in capsys.readouterr().err

    def broken(*args, **kwargs):
        raise ZeroDivisionError("something nobody expected")

    monkeypatch.setattr("synapse_sim.runner.make_engine", broken)
    args = ["run", ADAPTIVE, "--iterations", "5", "--out", str(tmp_path / "r"), "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error: ZeroDivisionError: something nobody expected" in err and "--debug" in err
    log = Path(err.split("the traceback is in ")[1].split(";")[0])
    assert log.is_file() and "Traceback" in log.read_text() and "Traceback" not in err
    assert not (tmp_path / "r").exists()
    with pytest.raises(ZeroDivisionError):
        main(["--debug", *args])
    with pytest.raises(ZeroDivisionError):
        main([*args, "--debug"])


def test_a_second_ctrl_c_during_the_final_save_is_waited_out(tmp_path, monkeypatch, capsys):
    from synapse_sim import runner

    original_record, original_write = runner.History.record, runner.write_results

    def record(self, result, n):
        original_record(self, result, n)
        if result.step == 15:
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: stop after this step

    def write_results(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # the second, while the results are being written
        return original_write(*args, **kwargs)

    monkeypatch.setattr(runner.History, "record", record)
    monkeypatch.setattr(runner, "write_results", write_results)
    summary = run(small_scenario(iterations=40), tmp_path / "r", progress=False)
    assert summary["status"] == "interrupted (SIGINT)" and summary["steps"] == 15
    assert "saving the checkpoint and results, please wait" in capsys.readouterr().err
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["steps"] == 15
    assert not (tmp_path / "r" / "run.lock").exists()
