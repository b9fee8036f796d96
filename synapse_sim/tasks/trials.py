"""Examples run as trials (Q-AGREL): Q values, one selected action, a reward, feedback from the winner.

The output units are Q values, one per class (action). Per example, the action is the
greedy one with probability 1 - epsilon, else a sample of softmax(q / T) (max-Boltzmann);
the reward is 1 when it is the label. Only the selected unit sends feedback: it reaches
each hidden neuron through the feedback weights (or the forward weights: the symmetric
case, where the feedback equals dq_s/dy) and is gated by the neuron's own derivative.
Computed once per layer for both views, as the activities are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import LEAKY_SLOPE


@dataclass(frozen=True)
class TrialSpec:
    """What the engine hands the task for a trial pass: exploration, the step's generator, feedback matrices."""

    epsilon: float
    temperature: float
    rng: np.random.Generator
    feedback: list[np.ndarray] | None = None  # per layer, shaped like the forward weights; None: the forward weights
    output: str = "selected"  # or "error": every output sends onehot(label) - softmax(q) (error-backprop)


@dataclass
class TrialRecord:
    """Per example: the selected action, its reward (1 or 0), its Q value, the label and the greedy
    action (the largest Q value: the selected one unless the trial explored)."""

    actions: np.ndarray
    rewards: np.ndarray
    q_selected: np.ndarray
    labels: np.ndarray
    greedy: np.ndarray


def select_actions(q_t: np.ndarray, epsilon: float, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Max-Boltzmann selection per column of ``q_t`` (classes in rows): greedy with probability
    1 - epsilon, else a sample of softmax(q / temperature). Two uniforms per example, always drawn."""
    n_classes, n = q_t.shape
    explore = rng.random(n) < epsilon
    u = rng.random(n)
    actions = np.argmax(q_t, axis=0)
    if explore.any():
        z = q_t[:, explore].astype(np.float64) / temperature
        z -= z.max(axis=0)
        p = np.exp(z)
        cumulative = np.cumsum(p / p.sum(axis=0), axis=0)
        actions[explore] = np.minimum((cumulative < u[explore]).sum(axis=0), n_classes - 1)
    return actions


def gate(hidden: np.ndarray, activation: str) -> np.ndarray:
    """f'(a) from the activation's output y = f(a): the gate through which feedback passes."""
    if activation == "relu":
        return (hidden > 0).astype(hidden.dtype)
    if activation == "leaky_relu":
        return np.where(hidden > 0, hidden.dtype.type(1), hidden.dtype.type(LEAKY_SLOPE))
    if activation == "tanh":
        return 1 - hidden * hidden
    return np.ones_like(hidden)


def run_trials(logits_t, labels, hidden, weights, spec: TrialSpec, activation: str):
    """The trials of a pass: a :class:`TrialRecord` and, per weight layer, each post neuron's
    gated feedback (shape ``(n_out, N)``): one-hot on the selected action at the output (or,
    for ``output = "error"``, the cross-entropy error of every output, with greedy actions)."""
    n = labels.size
    if spec.output == "error":
        actions = np.argmax(logits_t, axis=0)
        z = logits_t - logits_t.max(axis=0)
        p = np.exp(z)
        signal = -(p / p.sum(axis=0))
        signal[labels, np.arange(n)] += 1
    else:
        actions = select_actions(logits_t, spec.epsilon, spec.temperature, spec.rng)
        signal = np.zeros_like(logits_t)
        signal[actions, np.arange(n)] = 1
    rewards = (actions == labels).astype(np.float64)
    q_selected = logits_t[actions, np.arange(n)].astype(np.float64)
    feedback_weights = spec.feedback if spec.feedback is not None else weights
    signals = [signal]
    for layer in range(len(weights) - 1, 0, -1):
        back = feedback_weights[layer][:-1] @ signals[0]  # the bias unit receives no feedback
        signals.insert(0, back * gate(hidden[layer], activation))
    return TrialRecord(actions, rewards, q_selected, labels, np.argmax(logits_t, axis=0)), signals
