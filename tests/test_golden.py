"""Golden trajectories recorded from the code before the rule protocol (tests/golden/make_golden.py).

A refactor keeps every committed number: the same scenario and seed must give the same
rewards, losses, accuracies, final weights and Q table, bit for bit.

One deliberate change since the recording: accuracy counts a tie for the largest logit as
wrong (issue 11). Exact float32 ties occur in 76 of the 20,000 notMNIST 0 HU steps and in one
32 HU step, so the two notMNIST ``accuracy_sha256`` digests were re-recorded then (every other
array, the every-100-steps accuracies included, is the original recording, unchanged).

The floats depend on the platform as well (BLAS kernel and threads, NumPy's SIMD level): a machine
of another kind compares with its own copy in ``golden/platforms/``, made by replaying the
recording commits (``golden/record_platform.py``); a kind with no committed copy has one replayed
into pytest's cache before it compares.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_golden import CASES, trajectory  # noqa: E402
from record_platform import golden_path, provenance_note  # noqa: E402

from synapse_sim.provenance import blas_threads  # noqa: E402


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if CASES[n][2] else n for n in CASES])
def test_trajectory_unchanged(name, request, golden_cache):
    data = request.getfixturevalue("notmnist_path") if CASES[name][2] else None
    path, threads = golden_path(f"{name}.npz", golden_cache)
    expected = dict(np.load(path, allow_pickle=False))
    with blas_threads(threads):
        got = trajectory(name, data)
    assert expected.keys() == got.keys()
    first_bad = np.flatnonzero(expected["reward"] != got["reward"])
    assert first_bad.size == 0, f"rewards differ first at step {first_bad[0] + 1}; {provenance_note(path)}"
    for key in expected:
        assert expected[key].dtype == got[key].dtype, key
        assert np.array_equal(expected[key], got[key]), f"{key}; {provenance_note(path)}"


from make_control_golden import CASES as CONTROL_CASES  # noqa: E402
from make_control_golden import trajectory as control_trajectory  # noqa: E402


@pytest.mark.parametrize("name", list(CONTROL_CASES))
def test_control_trajectory_unchanged(name, golden_cache):
    """Every control rule and variant: returns, episode lengths and the final checkpoint, bit for bit."""
    path, threads = golden_path(f"control_{name}.npz", golden_cache)
    expected = dict(np.load(path, allow_pickle=False))
    with blas_threads(threads):
        got = control_trajectory(name)
    assert expected.keys() == got.keys()
    for key in expected:
        assert expected[key].dtype == got[key].dtype, key
        assert np.array_equal(expected[key], got[key]), f"{key}; {provenance_note(path)}"


def test_a_kind_of_machine_without_a_copy_gets_one_replayed_from_the_recording_commit(tmp_path, monkeypatch):
    """The fallback CI relies on when it lands on a new kind of machine: the recording commit's code,
    unpacked from git and run in a subprocess, writes the copy; today's code must equal it."""
    import record_platform

    from synapse_sim import provenance

    real = provenance.compute_platform()
    monkeypatch.setattr(provenance, "compute_platform", lambda: real | {"simd": "NEVER_RECORDED"})
    path, threads = golden_path("control_nrl.npz", tmp_path)
    assert path == tmp_path / provenance.platform_key(real | {"simd": "NEVER_RECORDED"}) / "control_nrl.npz"
    assert threads == real["blas_threads"] and sorted(p.name for p in path.parent.iterdir()) == ["control_nrl.npz"]
    assert record_platform.recording_of(path.name) == ("control", "nrl")
    expected = dict(np.load(path, allow_pickle=False))
    got = control_trajectory("nrl")
    assert expected.keys() == got.keys() and all(np.array_equal(expected[k], got[k]) for k in expected)
    assert "replaying the recording commit" in provenance_note(path)
    assert golden_path("control_nrl.npz", tmp_path) == (path, threads)  # made once, then read


def test_every_golden_file_names_the_commit_that_recorded_it():
    import record_platform

    for path in GOLDEN.glob("*.npz"):
        group, name = record_platform.recording_of(path.name)
        assert group in record_platform.GROUPS and name in path.stem, path.name
    with pytest.raises(KeyError, match="no recording group"):
        record_platform.recording_of("fig2_unknown.npz")
