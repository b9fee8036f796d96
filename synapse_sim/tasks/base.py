"""What every task shares: the evaluation record, forward passes, losses.

A task receives the per-layer weight matrices (see :mod:`synapse_sim.engine.topology`)
and returns an :class:`Evaluation`. It never sees synapses, agents or rules, so
both views evaluate through the very same code. A pass may carry Gaussian noise
on every neuron's pre-activation (node perturbation) and may keep a *trace*:
each example's loss, each layer's input and the noise it received.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.1  # leaky ReLU's slope below 0 (the NRL authors' networks)
ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0, out=z),
    "leaky_relu": lambda z: np.maximum(z, z.dtype.type(LEAKY_SLOPE) * z, out=z),
    "identity": lambda z: z,
}


def affine(h: np.ndarray, w) -> np.ndarray:
    """h W + b for a batch of runs (rows of ``h``), each with its own weights (``w``: runs x (in + 1) x out,
    or its :func:`split_bias` form, made once for many calls).

    One stacked product: per run the same BLAS call (and so the same rounding) as ``h[k] @ w[k][:-1]``,
    which is what one run alone does (cheaper to call; tests/test_lockstep.py holds the two equal)."""
    matrix, bias = split_bias(w) if isinstance(w, np.ndarray) else w
    if matrix.ndim == 2:
        return (h[0] @ matrix + bias)[None]
    return np.matmul(h[:, None, :], matrix)[:, 0] + bias


def split_bias(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stacked weights (runs x (in + 1) x out) as (matrices, biases); one run's as 2-D / 1-D views."""
    return (w[0, :-1], w[0, -1]) if w.shape[0] == 1 else (w[:, :-1], w[:, -1])


def rows(vectors) -> np.ndarray:
    """Vectors of equal length as the rows of one array (one vector: a view, no copy)."""
    return vectors[0][None] if len(vectors) == 1 else np.stack(vectors)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the run stops before recording it."""


@dataclass(frozen=True)
class NeuronNoise:
    """Gaussian noise of standard deviation ``std`` on every non-input neuron's pre-activation.

    ``rng(layer)`` returns the generator of weight layer ``layer`` (keyed by seed, step
    and layer), so the noise of neuron j on example n is the same in every view.
    """

    std: float
    rng: Callable[[int], np.random.Generator]

    def draw(self, sizes, n_examples: int, dtype) -> list[np.ndarray]:
        """Noise of every layer's ``sizes[l]`` neurons on ``n_examples`` examples, samples in columns."""
        std = np.dtype(dtype).type(self.std)
        return [
            self.rng(layer).standard_normal((size, n_examples), dtype=np.float64).astype(dtype) * std
            for layer, size in enumerate(sizes)
        ]


@dataclass
class Trace:
    """Per-example record of a pass, samples in columns.

    ``inputs[l]`` is layer l's input with a ones row for the bias, shape (n_in + 1, N);
    ``noise[l]`` the noise its outputs received, shape (n_out, N) (None: no noise); for a
    trial pass, ``trials`` the actions, rewards and selected Q values, and ``feedback[l]``
    each post neuron's gated feedback from the selected output, shape (n_out, N); for an
    episode (:mod:`.episodes`) the columns are its time steps and ``episode`` its record.
    """

    example_losses: np.ndarray
    inputs: list[np.ndarray]
    noise: list[np.ndarray] | None
    trials: object = None
    feedback: list[np.ndarray] | None = None
    episode: object = None


@dataclass
class Evaluation:
    """Loss and accuracy on the step's data; ``activity`` is each neuron layer's
    mean activation over the batch (bias unit last, always 1) when asked for;
    ``trace`` the per-example record when asked for; ``records`` numbers the task
    keeps per step in the run's history (an episode's return and length)."""

    loss: float
    accuracy: float
    activity: list[np.ndarray] | None = None
    trace: Trace | None = None
    records: dict | None = None


def correlate(trace: Trace, example_weights, signal: str = "noise") -> list[np.ndarray]:
    """Per layer, ``C[i, j] = mean_n x_i(n) * s_j(n) * w(n)``: pre activity x a post signal, weighted.

    ``signal``: the post neurons' ``"noise"`` (node perturbation) or gated ``"feedback"``
    (a trial pass). Shaped like the weight matrices (row i = pre neuron, bias last; column
    j = post neuron), so synapse (i, j) reads its own entry. Computed once per layer for
    both views, as the neurons' activities are.
    """
    w = np.asarray(example_weights)
    out = []
    for x, xi in zip(trace.inputs, getattr(trace, signal), strict=True):
        signal = xi * w.astype(xi.dtype, copy=False)
        out.append((x @ signal.T) / x.dtype.type(x.shape[1]))
    return out


def mlp_forward(x, weights, hidden_activation: str, keep_hidden: bool = False, noise=None, first=None):
    """Forward pass ``h <- f(h @ W[:-1] + W[-1] + noise)``; no activation on the output layer.

    ``noise``: per layer, an array added to the pre-activations (samples in rows), or None.
    ``first``: ``x @ W[:-1]`` of the first layer, already computed (:func:`mlp_forward_many`).
    """
    f = ACTIVATIONS[hidden_activation]
    hidden = [x]
    h = x
    for index, w in enumerate(weights):
        z = first if index == 0 and first is not None else h @ w[:-1]
        z += w[-1]
        if noise is not None:
            z += noise[index]
        h = z if index == len(weights) - 1 else f(z)
        if keep_hidden:
            hidden.append(h)
    return h, hidden


def layer_activity(hidden: list[np.ndarray]) -> list[np.ndarray]:
    """Mean activation per neuron, with the bias unit (activity 1) appended to every layer."""
    return [np.append(h.mean(axis=0), 1.0) for h in hidden]


def check_finite(loss: float, step: int) -> float:
    if not np.isfinite(loss):
        raise NonFiniteLossError(
            f"the loss became {loss} at step {step}; the weights have diverged. "
            "Lower the rule's step size (synapse.alpha_s, spsa.a, node_perturbation.eta, qagrel.alpha, "
            "backprop.learning_rate) or check the "
            "data for NaN/inf values"
        )
    return loss


class Task:
    """Base class. ``batch_id(t)`` names the data used at step ``t``; when it
    changes the engines re-evaluate the previous loss on the new batch."""

    name = "task"
    hidden_activation = "tanh"

    def batch_id(self, step: int) -> int:
        return 0

    def evaluate(
        self,
        weights,
        step: int,
        need_activity: bool = False,
        noise: NeuronNoise | None = None,
        trace: bool = False,
        trial=None,
        episode=None,
    ) -> Evaluation:
        raise NotImplementedError

    def validate(self, weights) -> dict[str, float]:
        """Held-out metrics, if the task has held-out data."""
        return {}

    def stop_reason(self, history) -> str | None:
        """Why the run may end now (the task is solved), from its history (:class:`synapse_sim.records.History`)."""
        return None


def logistic(z):
    return np.exp(-np.logaddexp(0.0, -z))


def softmax_cross_entropy(logits, labels) -> tuple[float, float]:
    """Mean softmax cross-entropy and accuracy of integer ``labels`` (samples in rows)."""
    loss, accuracy = softmax_cross_entropy_columns(np.asarray(logits).T, labels)
    return loss, accuracy


def softmax_cross_entropy_columns(logits_t, labels) -> tuple[float, float]:
    """The same with samples in columns: reductions over a few class rows stay vectorised."""
    example_losses, correct = softmax_cross_entropy_examples(logits_t, labels)
    return float(np.mean(example_losses, dtype=np.float64)), np.count_nonzero(correct) / correct.size


def softmax_cross_entropy_examples(logits_t, labels) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's cross-entropy and whether it is classified right (samples in columns).

    A sample is right when its label's logit is strictly larger than every other logit: a
    tie for the largest counts as wrong, so a network whose logits are all equal (all weights
    0) scores 0, not 1.
    """
    classes, n = logits_t.shape
    top = logits_t.max(axis=0)
    shifted = logits_t - top
    log_norm = np.log(np.exp(shifted).sum(axis=0))
    picked = shifted.ravel().take(labels * n + np.arange(n))
    at_top = shifted == 0  # a - b == 0 exactly when a == b (finite floats)
    # counted in bytes where they cannot overflow: several times faster than count_nonzero(axis=0)
    tops = np.add.reduce(at_top.view(np.uint8), axis=0, dtype=np.uint8 if classes < 256 else np.intp)
    correct = (picked == 0) & (tops == 1)
    return log_norm - picked, correct


_FUSION_EXACT: dict[tuple, bool] = {}  # (orientation or array library, input shape, dtype, width, networks) -> exact


def first_products(x, weights_list, samples_in_columns: bool) -> list[np.ndarray]:
    """Each network's first-layer product on the shared input ``x``: samples in columns
    ``W.T @ x_t`` (ones row included), in rows ``x @ W[:-1]`` (a contiguous copy each).

    Several networks' first layers are put side by side and multiplied at once where that gives
    every network exactly its own product. Whether it does depends on the BLAS's choice of
    kernel for the shapes (OpenBLAS rounds a 100 x 3 by 3 x 500 float64 product one way and the
    800-row one another, 1 ulp apart), so the first call of each shape computes both and compares:
    shapes where they differ keep separate products (:func:`fusion_exact`)."""
    if len(weights_list) == 1:
        w = weights_list[0][0]
        return [w.T @ x] if samples_in_columns else [x @ w[:-1]]
    key = (samples_in_columns, x.shape, x.dtype.str, weights_list[0][0].shape, len(weights_list))
    return fused_where_exact(
        key,
        lambda: [first_products(x, [w], samples_in_columns)[0] for w in weights_list],
        lambda: _side_by_side(x, weights_list, samples_in_columns),
        lambda a, b: np.array_equal(a, b, equal_nan=True),
    )


def fused_where_exact(key, own, fused, same) -> list:
    """``fused()`` (one product for several networks) where the first call with this ``key`` found it equal,
    by ``same``, to ``own()`` (a product per network), else ``own()``; that first call returns ``own()``."""
    if key not in _FUSION_EXACT:
        mine = own()
        _FUSION_EXACT[key] = all(same(a, b) for a, b in zip(mine, fused(), strict=True))
        return mine
    return fused() if _FUSION_EXACT[key] else own()


def fusion_exact(samples_in_columns: bool, x_shape, dtype, weight_shape, networks: int) -> bool | None:
    """Whether :func:`first_products` found the side-by-side product exact for these shapes (None: not tried yet)."""
    return _FUSION_EXACT.get((samples_in_columns, tuple(x_shape), np.dtype(dtype).str, tuple(weight_shape), networks))


def _side_by_side(x, weights_list, samples_in_columns: bool) -> list[np.ndarray]:
    width = weights_list[0][0].shape[1]
    side_by_side = np.concatenate([w[0] for w in weights_list], axis=1)
    if samples_in_columns:
        z = side_by_side.T @ x
        return [z[k * width : (k + 1) * width] for k in range(len(weights_list))]
    z = x @ side_by_side[:-1]
    return [np.ascontiguousarray(z[:, k * width : (k + 1) * width]) for k in range(len(weights_list))]


def mlp_forward_columns(x_t, weights, hidden_activation: str, keep_hidden: bool = False, noise=None, first=None):
    """:func:`mlp_forward` with samples in columns and a row of ones appended to ``x_t``.

    ``x_t`` has shape ``(n_in + 1, n_samples)`` with ones in its last row, so each
    layer, bias included, is one BLAS product ``W.T @ h``; the softmax reductions
    over a few class rows then stay vectorised. Returns the output (without the
    ones row) and, if asked, each layer's activations (without it too). ``noise``: per
    layer, an array added to the pre-activations (samples in columns), or None. ``first``:
    ``W.T @ x_t`` of the first layer, already computed (:func:`first_products`).
    """
    f = ACTIVATIONS[hidden_activation]
    hidden = [x_t[:-1]]
    h = x_t
    for index, w in enumerate(weights):
        z = first if index == 0 and first is not None else w.T @ h
        if noise is not None:
            z += noise[index]
        if index == len(weights) - 1:
            h = z
        else:
            h = np.empty((z.shape[0] + 1, z.shape[1]), dtype=z.dtype)
            if hidden_activation == "relu":
                np.maximum(z, 0, out=h[:-1])
            elif hidden_activation == "leaky_relu":
                np.maximum(z, z.dtype.type(LEAKY_SLOPE) * z, out=h[:-1])
            else:
                h[:-1] = f(z)
            h[-1] = 1
        if keep_hidden:
            hidden.append(h[:-1] if index < len(weights) - 1 else h)
    return h, hidden


def with_ones_row(x) -> np.ndarray:
    """Samples of ``x`` (rows) as columns, with the constant bias input as a last row."""
    out = np.empty((x.shape[1] + 1, x.shape[0]), dtype=x.dtype)
    out[:-1] = x.T
    out[-1] = 1
    return out
