import json

import numpy as np
import pytest

from synapse_sim import Policy, StateSpace
from synapse_sim.rules.synaptic_rl.policy import PolicyFileError


def test_ties_go_to_lowest_action_and_exploration_uses_random_action():
    policy = Policy(StateSpace.paper(), epsilon=0.25)
    states = np.array([0, 1, 2])
    assert policy.act(states, np.array([False] * 3), np.array([2, 2, 2])).tolist() == [0, 0, 0]
    assert policy.act(states, np.array([True, False, True]), np.array([2, 1, 1])).tolist() == [2, 0, 1]
    policy.q[1] = [0.0, 1.0, 1.0]
    policy._refresh_greedy()
    assert policy.act(np.array([1]), np.array([False]), np.array([0]))[0] == 1


def test_step_randomness_explores_with_probability_epsilon():
    from synapse_sim.randomness import STREAM_STEP, generator
    from synapse_sim.rules.synaptic_rl.rule import SynapticRL

    rule = SynapticRL(Policy(StateSpace.paper(), epsilon=0.25))

    def step_randomness(seed, step, n, _epsilon):
        draws = rule.draw(generator(seed, STREAM_STEP, step), n, step)
        return draws["explore"], draws["random_action"]

    explore, actions = step_randomness(5, 3, 200_000, 0.25)
    assert abs(explore.mean() - 0.25) < 0.005
    assert set(np.unique(actions[explore])) == {0, 1, 2} and not actions[~explore].any()
    counts = np.bincount(actions[explore], minlength=3) / explore.sum()
    assert np.all(np.abs(counts - 1 / 3) < 0.01)
    again = step_randomness(5, 3, 200_000, 0.25)
    assert np.array_equal(again[0], explore) and np.array_equal(again[1], actions)
    assert not np.array_equal(step_randomness(5, 4, 200_000, 0.25)[0], explore)


def sequential_updates(q, states, actions, next_states, reward, alpha, gamma):
    """In-place sequential Q-learning with targets read before the step (the reference)."""
    q = q.copy()
    frozen = q.copy()
    order = np.lexsort((next_states, states * 3 + actions))
    for i in order:
        target = reward + gamma * frozen[next_states[i]].max()
        q[states[i], actions[i]] += alpha * (target - q[states[i], actions[i]])
    return q


def test_synchronous_update_equals_k_sequential_updates():
    rng = np.random.default_rng(1)
    space = StateSpace.paper()
    policy = Policy(space, alpha_q=0.1, gamma=0.9, q=rng.normal(size=(81, 3)))
    states = rng.integers(0, 81, 300)
    actions = rng.integers(0, 3, 300)
    next_states = (states * 7 + actions) % 81  # a function of (s, a): one target per cell
    expected = sequential_updates(policy.q, states, actions, next_states, 1, 0.1, 0.9)
    policy.update(states, actions, next_states, 1)
    np.testing.assert_allclose(policy.q, expected, rtol=1e-12, atol=1e-12)


def test_update_does_not_depend_on_synapse_order():
    rng = np.random.default_rng(2)
    space = StateSpace.paper()
    q0 = rng.normal(size=(81, 3))
    states, next_states = rng.integers(0, 81, (2, 500))
    actions = rng.integers(0, 3, 500)
    a = Policy(space, q=q0)
    b = Policy(space, q=q0)
    a.update(states, actions, next_states, -1)
    perm = rng.permutation(500)
    b.update(states[perm], actions[perm], next_states[perm], -1)
    assert np.array_equal(a.q, b.q)


def test_static_policy_does_not_learn():
    policy = Policy(StateSpace.paper(), adaptive=False)
    policy.update(np.array([0]), np.array([0]), np.array([0]), 1)
    assert not policy.q.any()


def test_save_load_round_trip(tmp_path):
    policy = Policy(StateSpace.paper(), q=np.arange(243.0).reshape(81, 3))
    npz, meta = policy.save(tmp_path / "p")
    assert npz.name == "p.npz" and meta.name == "p.json"
    loaded = Policy.load(tmp_path / "p.npz", StateSpace.paper())
    assert np.array_equal(loaded.q, policy.q)
    assert json.loads(meta.read_text())["state_space"] == StateSpace.paper().spec()


def test_mismatched_policy_names_both_state_spaces(tmp_path):
    Policy(StateSpace.paper()).save(tmp_path / "p")
    other = StateSpace.paper(n=1)
    with pytest.raises(PolicyFileError) as err:
        Policy.load(tmp_path / "p", other)
    message = str(err.value)
    assert "81 states" in message and "9 states" in message and "last_actions" in message


@pytest.mark.parametrize("damage", ["npz_garbage", "json_garbage", "wrong_shape", "nan", "missing_json"])
def test_corrupt_policy_files_are_clear_errors(tmp_path, damage):
    Policy(StateSpace.paper()).save(tmp_path / "p")
    npz, meta = tmp_path / "p.npz", tmp_path / "p.json"
    if damage == "npz_garbage":
        npz.write_bytes(b"not a zip file")
        expected = "corrupt or unreadable"
    elif damage == "json_garbage":
        meta.write_text("{ nope")
        expected = "corrupt or not a synapse_sim policy"
    elif damage == "wrong_shape":
        np.savez(npz, q=np.zeros((80, 3)))
        expected = "has shape"
    elif damage == "nan":
        np.savez(npz, q=np.full((81, 3), np.nan))
        expected = "NaN"
    else:
        meta.unlink()
        expected = "not found"
    with pytest.raises(PolicyFileError, match=expected):
        Policy.load(tmp_path / "p", StateSpace.paper())


def test_several_next_states_per_cell_apply_in_increasing_next_state():
    rng = np.random.default_rng(3)
    policy = Policy(StateSpace.paper(), alpha_q=0.2, gamma=0.9, q=rng.normal(size=(81, 3)))
    states, next_states = rng.integers(0, 81, (2, 400))
    actions = rng.integers(0, 3, 400)
    expected = sequential_updates(policy.q, states, actions, next_states, -1, 0.2, 0.9)
    policy.update(states, actions, next_states, -1)
    np.testing.assert_allclose(policy.q, expected, rtol=1e-12, atol=1e-12)
