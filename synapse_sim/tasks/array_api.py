"""A classification evaluation in any array-API namespace ``xp`` (``run.device`` / ``run.array_library``).

The same arithmetic as the NumPy path (:func:`~.base.mlp_forward_columns`,
:func:`~.base.softmax_cross_entropy_examples`, :func:`~.base.first_products`) in standard
array-API calls, so that torch and CuPy run it on a GPU. With ``array_api_strict`` on the CPU
it gives the NumPy path's figures bit for bit (tests/test_arrays.py), which is what keeps the two
from drifting apart.
"""

from __future__ import annotations

from .base import LEAKY_SLOPE, fused_where_exact


def _activation(xp, z, name: str):
    if name == "relu":
        return xp.maximum(z, xp.zeros_like(z))
    if name == "leaky_relu":
        return xp.maximum(z, z * LEAKY_SLOPE)
    if name == "tanh":
        return xp.tanh(z)
    return z


def forward_columns(xp, x_t, weights, hidden_activation: str, first=None):
    """The logits (classes x samples) of ``x_t`` (inputs x samples, a ones row last)."""
    h = x_t
    for index, w in enumerate(weights):
        z = first if index == 0 and first is not None else w.T @ h
        if index == len(weights) - 1:
            return z
        ones = xp.ones((1, z.shape[1]), dtype=z.dtype, device=_device(xp, z))
        h = xp.concat([_activation(xp, z, hidden_activation), ones], axis=0)
    return h


def _device(xp, a):
    return a.device if hasattr(a, "device") else None


def softmax_cross_entropy(xp, logits_t, labels) -> tuple[float, float]:
    """Mean cross-entropy (float64) and accuracy; a tie for the largest logit counts as wrong."""
    n = logits_t.shape[1]
    top = xp.max(logits_t, axis=0)
    shifted = logits_t - top
    log_norm = xp.log(xp.sum(xp.exp(shifted), axis=0))
    picked = xp.take(xp.reshape(shifted, (-1,)), labels * n + xp.arange(n, device=_device(xp, labels)))
    tops = xp.sum(xp.astype(shifted == 0, xp.int32), axis=0)
    correct = (picked == 0) & (tops == 1)
    loss = float(xp.mean(xp.astype(log_norm - picked, xp.float64)))
    return loss, int(xp.sum(xp.astype(correct, xp.int64))) / n


def first_products(xp, x_t, weights_list) -> list:
    """Each network's ``W.T @ x_t``; side by side in one product where that is exact for these
    shapes (checked on the first call of each, as :func:`~.base.first_products` does)."""
    if len(weights_list) == 1:
        return [weights_list[0][0].T @ x_t]
    key = (xp.__name__, tuple(x_t.shape), str(x_t.dtype), tuple(weights_list[0][0].shape), len(weights_list))
    return fused_where_exact(
        key,
        lambda: [w[0].T @ x_t for w in weights_list],
        lambda: _side_by_side(xp, x_t, weights_list),
        lambda a, b: _same(xp, a, b),
    )


def _side_by_side(xp, x_t, weights_list) -> list:
    width = weights_list[0][0].shape[1]
    z = xp.concat([w[0] for w in weights_list], axis=1).T @ x_t
    return [z[k * width : (k + 1) * width, :] for k in range(len(weights_list))]


def _same(xp, a, b) -> bool:
    return bool(xp.all((a == b) | (xp.isnan(a) & xp.isnan(b))))
