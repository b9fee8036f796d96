"""What a run was made of, checked on resume (issue #11): the BLAS thread count it recorded, the kind of
machine, and scenario keys that only one version of synapse_sim knows."""

import json

import pytest
from conftest import small_scenario

from synapse_sim.runner import run

pytestmark = pytest.mark.usefixtures("user_home")  # a user folder of its own per test


# ------------------------------------------------------------------------------ BLAS threads and the platform
def test_resume_uses_the_blas_thread_count_the_run_recorded(tmp_path, monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    from synapse_sim import runner

    out = tmp_path / "r"
    with threadpool_limits(1, user_api="blas"):
        run(small_scenario(iterations=40), out, progress=False, interrupt_at=20)
    assert json.loads((out / "manifest.json").read_text())["blas_threads"] == 1
    seen = set()
    original = runner.History.record

    def record(self, result, n):
        seen.update(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
        original(self, result, n)

    monkeypatch.setattr(runner.History, "record", record)
    with threadpool_limits(2, user_api="blas"):
        summary = run(None, out, resume=True, progress=False)
    assert seen == {1} and summary["blas_threads"] == 1


def test_the_platform_is_recorded_and_a_resume_on_another_kind_of_machine_says_so(tmp_path, capsys):
    from synapse_sim.provenance import compute_platform

    out = tmp_path / "r"
    run(small_scenario(iterations=40), out, progress=False, interrupt_at=20)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["platform"]["simd"] == compute_platform()["simd"] and manifest["platform"]["blas_kernel"]
    capsys.readouterr()
    run(small_scenario(iterations=30), tmp_path / "same", progress=False, interrupt_at=10)
    run(None, tmp_path / "same", resume=True, progress=False)
    assert "another kind of machine" not in capsys.readouterr().err
    manifest["platform"] = dict(manifest["platform"], blas_kernel="SkylakeX", simd="X86_V4")
    (out / "manifest.json").write_text(json.dumps(manifest))
    summary = run(None, out, resume=True, progress=False)
    err = capsys.readouterr().err
    assert "started on another kind of machine" in err and "blas_kernel SkylakeX" in err, err
    assert summary["steps"] == 40 and summary["platform"]["blas_kernel"] == "SkylakeX"


def test_a_scenario_key_only_one_version_knows_counts_as_changed_not_as_a_crash():
    from types import SimpleNamespace

    from synapse_sim.provenance import changed_keys

    saved = SimpleNamespace(data={"nrl": {"eta": 0.1, "noisy_passes": 0}, "run": {"seed": 1}})
    older = SimpleNamespace(data={"nrl": {"eta": 0.1}, "run": {"seed": 1}})
    assert changed_keys(saved, older) == {"nrl.noisy_passes"} == changed_keys(older, saved)
    assert changed_keys(saved, saved) == set()
