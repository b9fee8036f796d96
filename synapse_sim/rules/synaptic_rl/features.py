"""Local state features and the state space they span.

A feature turns what one synapse can know locally into a small integer (a
"digit" below its ``cardinality``). Each feature has two implementations that
must agree: :meth:`Feature.local` reads one synapse's :class:`SynapseContext`
(the agent view) and :meth:`Feature.batch` reads a :class:`PopulationContext`
of arrays (the vectorised backend). A :class:`StateSpace` (:mod:`.state_space`) combines
features by mixed-radix encoding into one state index; the first feature is the
most significant digit.

New features are added here (and registered in ``FEATURES``); the engines only
fill the contexts.
"""

from __future__ import annotations

import itertools
import numbers
from typing import ClassVar

import numpy as np

from ...plugins import from_entry_point, hint, register_kind
from .contexts import PopulationContext, SynapseContext

ACTION_NAMES = ("dec", "keep", "inc")
REWARD_NAMES = ("-", "0", "+")
MAX_STATES = 1_000_000  # a state space's size: its Q table (and the averaged copy) hold 3 float64s per state
MAX_HISTORY = 12  # last_actions / last_rewards n: 3^12 = 531,441 values
MAX_BINS = 1000  # activity bins, streak cap + 1


def _whole(value, feature: str, name: str, low: int, high: int, why: str = "") -> int:
    """A feature's integer parameter, checked: a whole number (not a bool, not 2.5) in low..high."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{feature} needs a whole number {name}, got {value!r}")
    value = int(value)
    if value < low:
        raise ValueError(f"{feature} needs {name} >= {low}, got {value}")
    if value > high:
        raise ValueError(f"{feature} needs {name} <= {high}{why}, got {value}")
    return value


def _number(value, feature: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{feature} needs a number {name}, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{feature} needs a finite {name}, got {value!r}") from None


class Feature:
    """Base class: subclasses set ``name``, ``cardinality`` and both implementations.

    ``action_memory`` / ``reward_memory`` say how many past actions / rewards
    the feature reads; ``needs`` names extra context it reads
    (``"streak"``, ``"activity"``) so engines fill only what is used.
    """

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    cardinality: int = 1
    action_memory: int = 0
    reward_memory: int = 0

    def local(self, ctx: SynapseContext) -> int:
        raise NotImplementedError

    def batch(self, ctx: PopulationContext) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict:
        return {}

    def spec(self) -> dict:
        return {"name": self.name, **self.params()}

    def digit_labels(self) -> list[str]:
        return [str(d) for d in range(self.cardinality)]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Feature) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(repr(self))


def _base3_labels(n: int, names: tuple[str, ...]) -> list[str]:
    labels = []
    for digit in range(3**n):
        parts = [names[(digit // 3 ** (n - 1 - k)) % 3] for k in range(n)]
        labels.append(", ".join(parts))
    return labels


def _base3(values) -> int | np.ndarray:
    """Most recent value is the most significant base-3 digit."""
    code = 0
    for value in values:
        code = code * 3 + value
    return code


class LastActions(Feature):
    """The synapse's last ``n`` actions, a_{t-1} ... a_{t-n} (3^n values)."""

    name = "last_actions"

    def __init__(self, n: int = 2):
        self.n = _whole(n, "last_actions", "n", 1, MAX_HISTORY, f" (3^n states; at most {MAX_STATES:,} in all)")
        self.cardinality = 3**self.n
        self.action_memory = self.n

    def params(self) -> dict:
        return {"n": self.n}

    def local(self, ctx: SynapseContext) -> int:
        return int(_base3(ctx.action_history[: self.n]))

    def batch(self, ctx: PopulationContext) -> np.ndarray:
        columns = ctx.action_history[:, : self.n].astype(np.int64)
        return _base3(columns.T)

    def digit_labels(self) -> list[str]:
        return _base3_labels(self.n, ACTION_NAMES)


class LastRewards(Feature):
    """The last ``n`` global rewards R_{t-1} ... R_{t-n}, each -, 0 (none yet) or +."""

    name = "last_rewards"

    def __init__(self, n: int = 2):
        self.n = _whole(n, "last_rewards", "n", 1, MAX_HISTORY, f" (3^n states; at most {MAX_STATES:,} in all)")
        self.cardinality = 3**self.n
        self.reward_memory = self.n

    def params(self) -> dict:
        return {"n": self.n}

    def local(self, ctx: SynapseContext) -> int:
        return int(_base3(r + 1 for r in ctx.reward_history[: self.n]))

    def batch(self, ctx: PopulationContext) -> np.ndarray:
        code = int(_base3(int(r) + 1 for r in ctx.reward_history[: self.n]))
        return np.full(ctx.n_synapses, code, dtype=np.int64)

    def digit_labels(self) -> list[str]:
        return _base3_labels(self.n, REWARD_NAMES)


def _bin_labels(edges: tuple[float, ...], var: str, low: str = "-inf") -> list[str]:
    bounds = [low, *(f"{e:g}" for e in edges), "inf"]
    return [f"{var} in [{lo}, {hi})" for lo, hi in itertools.pairwise(bounds)]


def _float_edges(edges, what: str) -> tuple[float, ...]:
    if not isinstance(edges, (list, tuple, np.ndarray)):
        raise ValueError(f"{what} edges must be a list of numbers, got {edges!r}")
    if len(edges) >= MAX_BINS:
        raise ValueError(f"{what} needs fewer than {MAX_BINS} edges, got {len(edges)}")
    values = tuple(_number(e, what, "edge") for e in edges)
    if not values or any(not np.isfinite(e) for e in values) or any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"{what} edges must be finite and strictly increasing, got {list(edges)}")
    return values


def _require(value, feature: Feature, field: str):
    if value is None:
        raise ValueError(
            f"{feature!r} reads ctx.{field}, which the engine left empty; the feature must declare "
            f"needs = {sorted(feature.needs)} (engines fill only what the state space needs)"
        )
    return value


class _ActivityBins(Feature):
    """Binned mean activity of one end of the synapse (shared by ``pre_activity`` / ``post_activity``).

    Activations are tanh (in [-1, 1]), ReLU (>= 0) or, at the output layer, the raw
    linear output; the bias unit's activity is exactly 1.0. By default the bins cut
    the *magnitude* |activity| at ``k/bins`` (3 bins: low < 1/3 <= mid < 2/3 <= high),
    which means the same for tanh and ReLU and puts the bias unit in the top bin.
    ``absolute=False`` bins the signed value instead (default edges evenly spaced in
    [-1, 1], 3 bins: negative < -1/3 <= near zero < 1/3 <= positive). A value equal
    to an edge goes to the upper bin. Both implementations compare in float64 through
    the same ``np.searchsorted``, so float32 engines bin identically in both views.
    """

    needs = frozenset({"activity"})
    field = ""
    short = ""

    def __init__(self, bins: int | None = None, edges=None, absolute: bool = True):
        if not isinstance(absolute, (bool, np.bool_)):
            raise ValueError(f"{self.name} needs absolute = true or false, got {absolute!r}")
        if bins is not None:
            bins = _whole(bins, self.name, "bins", 2, MAX_BINS)
        if edges is None:
            bins = 3 if bins is None else bins
            edges = [k / bins if absolute else (2 * k - bins) / bins for k in range(1, bins)]
        self.edges = _float_edges(edges, self.name)
        bins = len(self.edges) + 1 if bins is None else bins
        if bins != len(self.edges) + 1:
            raise ValueError(f"{self.name}: {bins} bins need {bins - 1} edges, got {len(self.edges)}")
        self.bins = bins
        self.absolute = bool(absolute)
        self.cardinality = bins
        self._edges = np.array(self.edges, dtype=np.float64)

    def params(self) -> dict:
        return {"bins": self.bins, "edges": list(self.edges), "absolute": self.absolute}

    def _digit(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if self.absolute:
            values = np.abs(values)
        return np.searchsorted(self._edges, values, side="right").astype(np.int64)

    def local(self, ctx: SynapseContext) -> int:
        return int(self._digit(_require(getattr(ctx, self.field), self, self.field)))

    def batch(self, ctx: PopulationContext) -> np.ndarray:
        return self._digit(_require(getattr(ctx, self.field), self, self.field))

    def digit_labels(self) -> list[str]:
        if self.absolute:
            return _bin_labels(self.edges, f"|{self.short}|", low="0")
        return _bin_labels(self.edges, self.short)


class PreActivity(_ActivityBins):
    """Binned mean activity of the source neuron (input, hidden or bias unit) over the last batch."""

    name = "pre_activity"
    field = "pre_activity"
    short = "pre"


class PostActivity(_ActivityBins):
    """Binned mean activity of the target neuron over the last batch (raw output at the last layer)."""

    name = "post_activity"
    field = "post_activity"
    short = "post"


class WeightSign(Feature):
    """Sign of the synapse's own weight: 0 = negative (w < -tol), 1 = zero (|w| <= tol), 2 = positive.

    Bias synapses start at exactly 0 (digit 1). ``tol`` lets "near zero" count as
    zero; the comparison is done in float64 in both views.
    """

    name = "weight_sign"

    def __init__(self, tol: float = 0.0):
        tol = _number(tol, "weight_sign", "tol")
        if not np.isfinite(tol) or tol < 0:
            raise ValueError(f"weight_sign needs a finite tol >= 0, got {tol}")
        self.tol = tol
        self.cardinality = 3

    def params(self) -> dict:
        return {"tol": self.tol}

    def _digit(self, weight) -> np.ndarray:
        w = np.asarray(weight, dtype=np.float64)
        tol = np.float64(self.tol)
        return np.where(w > tol, 2, np.where(w < -tol, 0, 1)).astype(np.int64)

    def local(self, ctx: SynapseContext) -> int:
        return int(self._digit(ctx.weight))

    def batch(self, ctx: PopulationContext) -> np.ndarray:
        return self._digit(ctx.weight)

    def digit_labels(self) -> list[str]:
        return ["w<0", "w=0", "w>0"] if self.tol == 0 else [f"w<-{self.tol:g}", f"|w|<={self.tol:g}", f"w>{self.tol:g}"]


class Streak(Feature):
    """Momentum: how many times in a row the synapse has taken its last action, capped at ``cap``.

    Digits 0 (no action yet) ... ``cap`` (``cap`` or more repeats); ``cap + 1`` values.
    The engines track ``ctx.streak`` only for state spaces that declare ``needs = {"streak"}``.
    """

    name = "streak"
    needs = frozenset({"streak"})

    def __init__(self, cap: int = 3):
        self.cap = _whole(cap, "streak", "cap", 1, MAX_BINS - 1)
        self.cardinality = self.cap + 1

    def params(self) -> dict:
        return {"cap": self.cap}

    def local(self, ctx: SynapseContext) -> int:
        return min(max(int(ctx.streak), 0), self.cap)

    def batch(self, ctx: PopulationContext) -> np.ndarray:
        return np.clip(np.asarray(_require(ctx.streak, self, "streak"), dtype=np.int64), 0, self.cap)

    def digit_labels(self) -> list[str]:
        return ["x0", *(f"x{k}" for k in range(1, self.cap)), f"x{self.cap}+"]


FEATURES: dict[str, type[Feature]] = {
    cls.name: cls for cls in (LastActions, LastRewards, PreActivity, PostActivity, WeightSign, Streak)
}


def register_feature(cls: type[Feature]) -> type[Feature]:
    """Make a feature class available to scenarios and policy files by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} must set a class attribute `name`")
    FEATURES[cls.name] = cls
    return cls


register_kind("feature", FEATURES, lambda cls, name: register_feature(cls))


class UnknownFeatureError(ValueError):
    """A scenario or policy file names a state feature no code in this process registered."""

    def __init__(self, name):
        self.name = name
        super().__init__(f"unknown state feature {name!r}; known features: {sorted(FEATURES)}; {hint('feature', name)}")


def feature_from_spec(spec: dict) -> Feature:
    if not isinstance(spec, dict):
        raise ValueError(f"a state feature is a table such as {{name = 'last_actions', n = 2}}, got {spec!r}")
    spec = dict(spec)
    name = spec.pop("name", None)
    if not isinstance(name, str):
        raise ValueError(f"a state feature needs a name (a string), got {name!r}")
    if name not in FEATURES:
        if not from_entry_point("feature", name):
            raise UnknownFeatureError(name)
    try:
        return FEATURES[name](**spec)
    except TypeError as exc:
        raise ValueError(f"bad parameters for state feature {name!r}: {exc}") from None
