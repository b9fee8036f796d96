import numpy as np

from synapse_sim.rules.synaptic_rl.features import (
    LastActions,
    LastRewards,
    PopulationContext,
    SynapseContext,
)
from synapse_sim.rules.synaptic_rl.state_space import StateSpace


def random_population(n=500, history=3, seed=0):
    rng = np.random.default_rng(seed)
    return PopulationContext(
        action_history=rng.integers(0, 3, (n, history)).astype(np.int8),
        reward_history=rng.choice([-1, 0, 1], history).astype(np.int8),
        weight=rng.normal(size=n),
        is_bias=rng.random(n) < 0.1,
        streak=rng.integers(0, 5, n).astype(np.int32),
    )


def synapse(ctx, sid):
    return SynapseContext(
        sid=sid,
        action_history=tuple(int(a) for a in ctx.action_history[sid]),
        reward_history=tuple(int(r) for r in ctx.reward_history),
        weight=float(ctx.weight[sid]),
        is_bias=bool(ctx.is_bias[sid]),
        streak=int(ctx.streak[sid]),
    )


def test_local_and_batch_agree():
    ctx = random_population()
    space = StateSpace([LastActions(3), LastRewards(2)])
    batch = space.index_batch(ctx)
    assert batch.max() < space.n_states
    assert [space.index_local(synapse(ctx, i)) for i in range(ctx.n_synapses)] == batch.tolist()


def test_paper_state_space_encoding_and_words():
    space = StateSpace.paper()
    assert space.n_states == 81
    ctx = SynapseContext(sid=0, action_history=(0, 2), reward_history=(1, -1), weight=0.0, is_bias=False)
    index = space.index_local(ctx)
    assert index == (0 * 3 + 2) * 9 + (2 * 3 + 0)
    assert space.describe(index) == "dec, inc | +, -"
    assert space.digits(index) == [2, 6]
    initial = SynapseContext(sid=0, action_history=(1, 1), reward_history=(0, 0), weight=0.0, is_bias=False)
    assert space.describe(space.index_local(initial)) == "keep, keep | 0, 0"


def test_spec_round_trip():
    space = StateSpace([LastActions(1), LastRewards(3)])
    again = StateSpace.from_spec(space.spec())
    assert again == space and again.n_states == 3 * 27
    assert space.action_memory == 1 and space.reward_memory == 3
