"""The state space the local features span: a mixed-radix product, one state index per synapse, the
first feature the most significant digit; and the command line's short way of writing features."""

from __future__ import annotations

import inspect
import math
import tomllib

import numpy as np

from ...scenario import ScenarioError
from .contexts import PopulationContext, SynapseContext
from .features import FEATURES, MAX_STATES, LastActions, LastRewards, feature_from_spec


class StateSpace:
    """Mixed-radix product of features: ``index = sum_i digit_i * prod_{j>i} card_j``."""

    def __init__(self, features):
        self.features = tuple(features)
        if not self.features:
            raise ValueError("a state space needs at least one feature")
        self.cardinalities = tuple(f.cardinality for f in self.features)
        n_states = math.prod(self.cardinalities)  # Python integers: no overflow before the check
        if n_states > MAX_STATES:
            sizes = " x ".join(f"{f.name} {c:,}" for f, c in zip(self.features, self.cardinalities, strict=True))
            raise ScenarioError(
                f"the state space has {n_states:,} states ({sizes}), more than the {MAX_STATES:,} a Q table may "
                "hold; use fewer or coarser features (state.features)"
            )
        self.n_states = int(n_states)
        self.action_memory = max(1, *(f.action_memory for f in self.features))
        self.reward_memory = max(1, *(f.reward_memory for f in self.features))
        self.needs = frozenset().union(*(f.needs for f in self.features))

    @classmethod
    def paper(cls, n: int = 2) -> StateSpace:
        """The paper's state: last ``n`` actions and last ``n`` rewards (3^(2n) states)."""
        return cls([LastActions(n), LastRewards(n)])

    @classmethod
    def from_spec(cls, spec: list[dict]) -> StateSpace:
        return cls([feature_from_spec(s) for s in spec])

    def spec(self) -> list[dict]:
        return [f.spec() for f in self.features]

    def index_local(self, ctx: SynapseContext) -> int:
        index = 0
        for feature in self.features:
            index = index * feature.cardinality + feature.local(ctx)
        return index

    def index_batch(self, ctx: PopulationContext) -> np.ndarray:
        index = np.zeros(ctx.n_synapses, dtype=np.int64)
        for feature in self.features:
            index = index * feature.cardinality + feature.batch(ctx)
        return index

    def digits(self, index: int) -> list[int]:
        digits = []
        for card in reversed(self.cardinalities):
            index, digit = divmod(int(index), card)
            digits.append(digit)
        return digits[::-1]

    def describe(self, index: int) -> str:
        """The state in words, e.g. ``"dec, keep | -, +"``."""
        return " | ".join(f.digit_labels()[d] for f, d in zip(self.features, self.digits(index), strict=True))

    def labels(self) -> list[str]:
        return [self.describe(i) for i in range(self.n_states)]

    def __eq__(self, other) -> bool:
        return isinstance(other, StateSpace) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(repr(self.spec()))

    def __repr__(self) -> str:
        return f"StateSpace({list(self.features)!r}, n_states={self.n_states})"


def parse_features(text) -> list[dict]:
    """``"last_actions:2, streak"`` -> the ``state.features`` spec: each feature by its registered name,
    with a value for its first parameter if given (``n``, ``bins``, ``tol``, ``cap``)."""
    spec = []
    for item in (p.strip() for p in str(text or "").split(",")):
        if not item:
            continue
        name, _, value = item.partition(":")
        name = name.strip()
        if name not in FEATURES:
            raise ValueError(
                f"state feature {name!r} is not registered; registered: {', '.join(FEATURES)} (a plug-in's "
                "features appear once the scenario lists the plug-in)"
            )
        entry: dict = {"name": name}
        if value.strip():
            first = next(iter(inspect.signature(FEATURES[name]).parameters))
            try:
                entry[first] = tomllib.loads(f"v = {value.strip()}")["v"]
            except tomllib.TOMLDecodeError:
                raise ValueError(f"state feature {item!r}: {value.strip()!r} is not a number") from None
        spec.append(entry)
    if not spec:
        raise ValueError("state features: name at least one (e.g. last_actions:2, last_rewards:2)")
    return spec
