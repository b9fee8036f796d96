"""Golden trajectories recorded from the code before the rule protocol (tests/golden/make_golden.py).

A refactor keeps every committed number: the same scenario and seed must give the same
rewards, losses, accuracies, final weights and Q table, bit for bit.

One deliberate change since the recording: accuracy counts a tie for the largest logit as
wrong (issue 11). Exact float32 ties occur in 76 of the 20,000 notMNIST 0 HU steps and in one
32 HU step, so the two notMNIST ``accuracy_sha256`` digests were re-recorded then (every other
array, the every-100-steps accuracies included, is the original recording, unchanged).

The floats depend on the platform as well (BLAS kernel and threads, NumPy's SIMD level): a machine
of another kind compares with its own copy in ``golden/platforms/``, made by replaying the
recording commits (``golden/record_platform.py``).
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
def test_trajectory_unchanged(name, request):
    data = request.getfixturevalue("notmnist_path") if CASES[name][2] else None
    path, threads = golden_path(f"{name}.npz")
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
def test_control_trajectory_unchanged(name):
    """Every control rule and variant: returns, episode lengths and the final checkpoint, bit for bit."""
    path, threads = golden_path(f"control_{name}.npz")
    expected = dict(np.load(path, allow_pickle=False))
    with blas_threads(threads):
        got = control_trajectory(name)
    assert expected.keys() == got.keys()
    for key in expected:
        assert expected[key].dtype == got[key].dtype, key
        assert np.array_equal(expected[key], got[key]), f"{key}; {provenance_note(path)}"
