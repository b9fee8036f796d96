"""What the dashboard says per learning rule (synaptic RL, SPSA, node perturbation, any other).

The views in :mod:`.views` are written for every rule; this module holds the words that
differ: what a raster cell means (an action, or the sign of a weight change), the rule's
settings for the status line, the panel shown instead of a Q table, and a synapse's memory
fields in words. It reads only the rule protocol (``discrete_actions``, ``broadcast_label``,
``params()``, ``summary``, ``memory_fields()``), so a newly registered rule is shown too.
"""

from __future__ import annotations

import html

import numpy as np

from ..rules.synaptic_rl.features import ACTION_NAMES

ACTION_WORDS = ("decrement", "keep", "increment")
EXPLORED_WORDS = {
    True: "true (the last action was drawn at random, probability epsilon, not chosen by the policy)",
    False: "false (the last action was the policy's greedy one)",
}
SIGN_WORDS = ("down", "none", "up")
SIGN_LEGEND = "weight change sign (red down, grey none, blue up)"

# one step of each shipped rule, in words (a rule not listed here shows its summary only)
RULE_STEPS = {
    "spsa": (
        "each step every synapse draws its own perturbation Delta = +1 or -1; the network is evaluated at "
        "w + c Delta and at w - c Delta on the same minibatch; g = (L+ - L-) / 2c is broadcast; "
        "each synapse steps w &larr; w - a g Delta"
    ),
    "keep_or_revert": (
        "each step every synapse draws its own step Delta = +1 or -1; the network is evaluated once, at "
        "w + a Delta; one bit is broadcast: kept (+1) when the loss fell below the kept network's, else reverted "
        "(-1); on +1 each synapse takes its step w &larr; w + a Delta, on -1 it stays"
    ),
    "momentum_search": (
        "each step every synapse draws its own Delta = +1 or -1 and proposes o = c_t Delta + beta v (v: its "
        "velocity; c_t = c / (1 + decay t)); the network is evaluated once, at w + o; b = L(w + o) - L_ref is "
        "broadcast (its sign, or b); "
        "if b &lt; 0 each synapse takes its step, w &larr; w + o, and v &larr; rho_kept v + o; else w stays and "
        "v &larr; rho_dropped v - eta (b / c_t, or c_t) Delta"
    ),
    "node_perturbation": (
        "each step the network is evaluated clean and with Gaussian noise (std sigma) on every neuron; "
        "the loss change -(L_noisy - L_clean) / sigma<sup>2</sup> is broadcast (per example); a synapse's "
        "eligibility is the mean of broadcast x post-neuron noise x pre-neuron activity, and it steps "
        "w &larr; w + eta x eligibility"
    ),
}

# memory fields of the non-synaptic-RL rules: what the value means
MEMORY_MEANINGS = {
    "perturbation": "this step's Delta: the network was evaluated at w + c Delta and w - c Delta, "
    "and the weight stepped by -a g Delta",
    "eligibility": "mean of broadcast x post noise x pre activity, the step it drove: the weight moved by eta x it",
    "tag": "mean over the step's trials of δ x pre activity x the post neuron's gated feedback from the selected "
    "output, the step it drove: the weight moved by alpha x it",
}
# fields whose meaning depends on the rule: (rule, field) -> meaning
RULE_MEMORY_MEANINGS = {
    ("keep_or_revert", "perturbation"): "this step's Delta: the network was evaluated at w + a Delta; the weight "
    "took the step a Delta if the broadcast was +1 (kept), else stayed",
    ("momentum_search", "perturbation"): "this step's Delta: the network was evaluated at w + c_t Delta + beta v; "
    "the weight took that step if b < 0 (kept), else stayed",
    ("momentum_search", "velocity"): "v, after this step: rho_kept v + the step when kept, else rho_dropped v "
    "turned away from Delta",
}
# what "eligibility" means under the rules that learn from an episode (the sum over its time steps)
RULE_MEMORY_MEANINGS.update(
    {
        ("nrl", "eligibility"): "the episode's sum over time steps of (dp_t / Z_t) x post noise x pre activity; "
        "the weight moved by eta x c_l x delta x it",
        ("rmhl", "eligibility"): "the episode's sum over time steps of post noise x pre activity; the weight moved "
        "by eta x delta x it",
        ("reinforce", "eligibility"): "the episode's sum over time steps of d log pi(a_t) / d(post pre-activation) "
        "x pre activity; the weight moved by eta x delta x it",
        ("spiking", "eligibility"): "the episode's sum over time steps of TD error delta_t x pre spike x c "
        "(s - tanh z) of the post neuron; the weight moved by alpha x it",
    }
)
FEEDBACK_WORDS = {
    "learned": "learned: it changes by the same step as this synapse",
    "fixed": "fixed: random and never changed (feedback alignment)",
}


def discrete(model) -> bool:
    """Whether the rule's synapses choose actions (else the views show weight-change signs)."""
    return bool(getattr(model.rule, "discrete_actions", False))


def has_policy(model) -> bool:
    """Whether the rule has a shared Q table the policy view can show (synaptic RL)."""
    rule = model.rule
    return hasattr(rule, "policy") and hasattr(rule, "state_space") and hasattr(rule.policy, "q")


def change_words(is_discrete: bool) -> tuple[str, str, str]:
    """The words for raster values 0 / 1 / 2."""
    return ACTION_WORDS if is_discrete else SIGN_WORDS


def number(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return f"{value:.{digits}g}" if np.isfinite(value) else str(value)
    return str(value)


def broadcast_text(value, is_discrete: bool) -> str:
    """The broadcast for the status line: synaptic RL's reward as +1 / -1, any other number as it is."""
    if value is None:
        return "none yet"
    value = float(value)
    if is_discrete and value in (1.0, -1.0):
        return f"{value:+.0f}"
    return number(value)


def settings_text(model) -> str:
    """Every setting of the rule for the status line (synaptic RL: policy, epsilon, alpha_s, alpha_q,
    gamma; others: their parameters), then the run's seed."""
    rule = model.rule
    seed = f"seed {model.simulation.scenario['run']['seed']}"
    if has_policy(model) and hasattr(rule, "weight_steps"):
        p = model.simulation.scenario["policy"]
        policy = ("adaptive" if rule.policy.adaptive else "static") + (f" ({p['file']})" if p["file"] else "")
        values = (
            ("epsilon", rule.policy.epsilon),
            ("alpha_s", rule.weight_steps.alpha_s),
            ("alpha_q", rule.policy.alpha_q),
            ("gamma", rule.policy.gamma),
        )
        return " &middot; ".join([f"policy {policy}", *(f"{k} {number(v, 3)}" for k, v in values), seed])
    params = ", ".join(f"{html.escape(str(k))} {html.escape(number(v, 3))}" for k, v in rule.params().items())
    step_size = model.last_result.step_size if model.last_result is not None else None
    parts = [params] if params else []
    if step_size is not None and np.isfinite(step_size):
        parts.append(f"step size {number(step_size, 3)}")
    return " &middot; ".join([*parts, seed])


def params_rows(rule) -> list[tuple[str, str]]:
    return [(html.escape(str(k)), html.escape(number(v, 6))) for k, v in rule.params().items()]


def no_policy_html(model) -> str:
    """The policy view for a rule without a Q table: what the rule does, its parameters, its broadcast."""
    rule = model.rule
    name = html.escape(rule.name or type(rule).__name__)
    result = model.last_result
    rows = params_rows(rule)
    rows.append(("broadcast", html.escape(rule.broadcast_label)))
    rows.append(("broadcast now", broadcast_text(result.reward if result else None, discrete(model))))
    evaluations = result.evaluations if result is not None else model.simulation.evaluations
    rows.append(("loss evaluations", str(int(evaluations))))
    rows.append(("memory per synapse", html.escape(", ".join(f.name for f in rule.memory_fields()) or "none")))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    steps = RULE_STEPS.get(rule.name)
    return (
        f'<div class="synsim-rule-panel" data-rule="{name}">'
        f'<div class="synsim-title">rule: {name}</div>'
        f'<div class="synsim-note">{name} has no policy table: every synapse applies the same fixed local '
        "arithmetic to its memory and the broadcast, so there is nothing shared to learn or show here.</div>"
        f"<div>{html.escape(rule.summary)}</div>"
        + (f'<div class="synsim-note">{steps}</div>' if steps else "")
        + f'<div class="synsim-title">parameters</div><table class="synsim-kv">{table}</table></div>'
    )


def memory_value(value) -> str:
    array = np.asarray(value)
    if array.ndim == 0:
        item = array.item()
        if array.dtype.kind in "iu" and array.dtype.itemsize == 1 and item in (-1, 1):
            return f"{item:+d}"
        return number(item if not isinstance(item, float) else float(item), 6)
    return ", ".join(number(v, 4) for v in array.ravel().tolist())


def memory_rows(memory: dict, stepped: bool = True, rule: str = "") -> list[tuple[str, str]]:
    """Every memory field of a synapse in words: (label, HTML); before the first step, initial values.

    ``rule``: the rule's name, for the words of a field whose meaning depends on it (an episode
    rule's eligibility)."""
    rows = []
    for name, value in memory.items():
        text = html.escape(memory_value(value))
        meaning = RULE_MEMORY_MEANINGS.get((rule, name), MEMORY_MEANINGS.get(name))
        meaning = meaning if stepped else "the initial value: no step yet"
        rows.append((f"memory: {html.escape(name)}", f"{text} ({html.escape(meaning)})" if meaning else text))
    return rows


def feedback_rows(model, agent) -> list[tuple[str, str]]:
    """A trial rule's feedback synapse of ``agent``: its own weight on the reverse edge, or that it has none."""
    partner = getattr(agent, "feedback", None)
    if partner is not None:
        how = FEEDBACK_WORDS.get(getattr(model.rule, "feedback", None), "")
        weight = float(partner.weight)
        return [
            (
                "feedback synapse (reverse edge) weight",
                f'<b class="synsim-feedback-weight" data-weight="{weight!r}">{html.escape(number(weight, 6))}</b> '
                f"(from neuron {partner.pre} back to neuron {partner.post}: it carries the selected output's "
                f"feedback back to this synapse's pre neuron{'; ' + html.escape(how) if how else ''})",
            )
        ]
    if getattr(model.rule, "feedback", None) == "symmetric":
        return [
            (
                "feedback synapse",
                "none of its own: symmetric feedback travels back through this synapse's own weight",
            )
        ]
    return []


def weight_trace(model, sid: int, history: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The synapse's weight after each recent step: (weights, steps, where they come from).

    A :class:`~.model.DashboardModel` records the weights after every step (``weight_log``); for
    a plain model under synaptic RL the trace is rebuilt from the actions x alpha_s; otherwise
    only the current weight is known.
    """
    agent = model.synapses[sid]
    current = np.array([float(agent.weight)])
    log = getattr(model, "weight_log", None)
    if log is not None:
        entries = list(log)  # a snapshot (the model may step meanwhile)
        if not entries:
            return current, np.array([model.steps]), "recorded after each step"
        values = np.array([float(weights[sid]) for _, weights in entries])
        return values, np.array([step for step, _ in entries]), "recorded after each step"
    weight_steps = getattr(model.rule, "weight_steps", None)
    n = history.size
    if weight_steps is None or not discrete(model) or n == 0:
        return current, np.array([model.steps]), "the current weight only: this model keeps no weight record"
    # undo the steps backwards: w_{t-1} = w_t - (a_t - 1) * alpha_s(t) * (bias scale if a bias synapse)
    scale = weight_steps.bias_step_scale if agent.is_bias else 1.0
    trajectory = np.empty(n + 1)
    trajectory[-1] = float(agent.weight)
    for k in range(n - 1, -1, -1):
        trajectory[k] = trajectory[k + 1] - (int(history[k]) - 1) * weight_steps.alpha_s_at(int(steps[k])) * scale
    return trajectory[1:], steps, "from the action log"


def change_and_memory_rows(info) -> list[tuple[str, str]]:
    """The inspector's rows for a rule without a Q table: the last weight change and every memory field."""
    words = change_words(info.discrete)
    change = words[info.action] if info.action is not None else "none yet"
    if not info.discrete and info.weights.size >= 2 and info.action is not None:
        change += f" ({info.weights[-1] - info.weights[-2]:+.3g})"
    rows = [("last action" if info.discrete else "last weight change", change)]
    return rows + (info.memory_rows or [("memory", f"none (the rule {html.escape(info.rule)} keeps no memory)")])


def strip_caption(is_discrete: bool, n: int) -> str:
    if is_discrete:
        return f"actions, last {n} steps (red dec, grey keep, blue inc):"
    return f"weight change sign, last {n} steps (red down, grey none, blue up):"


def synapse_memory(model, agent) -> tuple[dict, list[tuple[str, str]]]:
    """(the synapse's weight and memory as plain values, its memory rows in words for a rule without a Q table).

    Synaptic RL: actions, rewards (newest first), streak, state and the state in words (no rows:
    :func:`synaptic_rl_rows` shows them with the Q row); any other rule: its memory fields as they are.
    """
    if has_policy(model) and "state" in agent.memory:
        state = int(agent.memory["state"])
        memory = {
            "weight": float(agent.weight),
            "actions": [int(a) for a in agent.memory["action_history"]],
            "rewards": [int(r) for r in agent.memory["reward_history"]],
            "streak": int(agent.memory["streak"]),
            "state": state,
            "state_words": model.rule.state_space.describe(state),
        }
        if "explored" in agent.memory:
            memory["explored"] = bool(agent.memory["explored"])
        return memory, []
    memory = {"weight": float(agent.weight), **agent.memory}
    if getattr(agent, "feedback", None) is not None:
        memory[agent.feedback.field] = float(agent.feedback.weight)
    rows = memory_rows(agent.memory, model.last_result is not None, model.rule.name)
    return memory, rows + feedback_rows(model, agent)


def synaptic_rl_rows(info) -> list[tuple[str, str]]:
    """The inspector's rows under synaptic RL: last action, memory, state in words, the Q row, streak, explored."""
    m = info.memory
    actions = ", ".join(ACTION_WORDS[a] for a in m["actions"])
    rewards = ", ".join({1: "+1", -1: "-1", 0: "none yet"}[r] for r in m["rewards"])
    action = ACTION_WORDS[info.action] if info.action is not None else "none yet"
    q = ", ".join(f"{ACTION_NAMES[a]} {info.q_row[a]:.4f}" for a in range(info.q_row.size))
    return [
        ("last action", action),
        ("memory: last actions", f"{actions} (newest first)"),
        ("memory: last rewards", f"{rewards} (newest first)"),
        ("state", f"{m['state']}: {html.escape(m['state_words'])}"),
        ("policy in this state", f"Q = {q}; greedy: {ACTION_WORDS[info.greedy]}"),
        ("streak", str(m["streak"])),
    ] + ([("memory: explored", explored_words(m["explored"], info.action))] if "explored" in m else [])


def explored_words(explored: bool, action: int | None) -> str:
    return "false (no action yet)" if action is None else EXPLORED_WORDS[bool(explored)]
