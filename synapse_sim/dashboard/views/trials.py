"""4'. The trials of a trial rule (Q-AGREL, error-backprop): per trial the selected action and δ,
the selections per class, and the feedback pathway of one trial.

Everything is read from the last step's recorded evaluation (``model.simulation.last.trace``:
its :class:`~synapse_sim.tasks.trials.TrialRecord` and each post neuron's gated feedback) and
the rule's broadcast, so the views show what the synapses learned from, not a re-run. Until an
agent step has run (a new model, a reset, a fast-forward) there is no trace and nothing to show.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from ...engine.simulation import flatten
from .common import fmt

PATHWAY_HEX = "#16a34a"  # green: no edge colour (red, grey, blue) or their blends come near it
TABLE_ROWS = 20
COUNT_HEX = {"presented": "#c8c8c8", "selected": "#2b8cbe", "correct": PATHWAY_HEX}
COUNT_WORDS = {"presented": "presented", "selected": "selected", "correct": "selected rightly"}


def trial_output(model) -> str | None:
    """What the rule's trial pass sends back: ``"selected"`` (Q-AGREL), ``"error"`` (error-backprop) or None."""
    for spec in model.rule.passes(max(int(model.steps), 1)):
        trial = getattr(spec, "trial", None)
        if trial is not None:
            return getattr(trial, "output", "selected")
    return None


def runs_trials(model) -> bool:
    return trial_output(model) is not None


@dataclass
class TrialData:
    step: int
    labels: np.ndarray
    actions: np.ndarray  # the selected action (class) per trial
    rewards: np.ndarray  # 1 when the action is the label, else 0
    q_selected: np.ndarray
    delta: np.ndarray | None  # the broadcast δ = r - q_s (Q-AGREL); None when the rule broadcasts no δ
    greedy: np.ndarray  # the greedy action (largest Q value) per trial
    not_greedy: np.ndarray  # the trials that explored to another action than the greedy one
    class_counts: np.ndarray | None  # (3, n_classes): selected, selected rightly, presented
    feedback: list[np.ndarray]  # per weight layer, each post neuron's gated feedback, (n_out, N)
    every_output: bool  # error-backprop: every output sends its error, not only the selected one

    @property
    def n(self) -> int:
        return int(self.actions.size)


def trial_data(model) -> TrialData | None:
    """The last step's trials, or None before a step that ran trials (or for a rule without trials)."""
    trace = getattr(getattr(model.simulation, "last", None), "trace", None)
    if trace is None or trace.trials is None or trace.feedback is None or model.last_result is None:
        return None
    trials = trace.trials
    step = int(model.last_result.step)
    delta = getattr(model.broadcast, "delta", None)
    if delta is not None:
        delta = np.asarray(delta, dtype=np.float64)
        delta = delta if delta.shape == trials.actions.shape else None
    greedy = np.asarray(trials.greedy)
    return TrialData(
        step=step,
        labels=np.asarray(trials.labels),
        actions=np.asarray(trials.actions),
        rewards=np.asarray(trials.rewards, dtype=np.float64),
        q_selected=np.asarray(trials.q_selected, dtype=np.float64),
        delta=delta,
        greedy=greedy,
        not_greedy=np.asarray(trials.actions) != greedy,
        class_counts=model.last_result.class_counts,
        feedback=list(trace.feedback),
        every_output=trial_output(model) == "error",
    )


@dataclass
class Pathway:
    """Where the feedback of one trial flows: from the selected output back to the input."""

    trial: int
    output: tuple[int, int]  # the selected output neuron (layer, index)
    on: np.ndarray  # per synapse (sid order): its post neuron's gated feedback is nonzero on this trial
    neurons: list[np.ndarray]  # per neuron layer 1 .. L: the neurons whose gated feedback is nonzero

    @property
    def sids(self) -> np.ndarray:
        return np.flatnonzero(self.on)


def feedback_pathway(model, trial: int, data: TrialData | None = None) -> Pathway | None:
    """The synapses of trial ``trial`` whose post neuron receives nonzero gated feedback.

    A neuron's gated feedback is nonzero only when a neuron above it with nonzero feedback
    reaches it through a nonzero feedback weight and its own gate is open, so this is the
    pathway traced back from the selected output (or, for error-backprop, every output).
    """
    data = data if data is not None else trial_data(model)
    if data is None:
        return None
    k = int(np.clip(trial, 0, data.n - 1))
    carrying = [np.asarray(layer[:, k]) != 0 for layer in data.feedback]
    shapes = model.topology.matrix_shapes()
    on = flatten([np.broadcast_to(c, shape) for c, shape in zip(carrying, shapes, strict=True)])
    output = (len(model.topology.layer_sizes) - 1, int(data.actions[k]))
    return Pathway(k, output, on, [np.flatnonzero(c) for c in carrying])


def pathway_nodes(graph, pathway: Pathway) -> tuple[list[int], int]:
    """(indices in ``graph.nodes`` order of the neurons carrying feedback, index of the selected output)."""
    index = {node: i for i, node in enumerate(graph.nodes)}
    marked = [index[(layer + 1, int(j))] for layer, neurons in enumerate(pathway.neurons) for j in neurons]
    return marked, index[pathway.output]


def trials_summary_html(data: TrialData) -> str:
    mean_delta = f" &middot; mean δ {fmt(float(np.mean(data.delta)))}" if data.delta is not None else ""
    explored = ""
    if data.not_greedy is not None:
        explored = f" &middot; not greedy (explored): {int(np.count_nonzero(data.not_greedy))} of {data.n}"
    return (
        f'<div class="synsim-trials-summary" data-step="{data.step}" data-trials="{data.n}" '
        f'data-mean-reward="{float(np.mean(data.rewards))!r}">'
        f"<b>step {data.step}: {data.n} trials</b> (the minibatch) &middot; "
        f"mean reward {fmt(float(np.mean(data.rewards)))}{mean_delta}{explored}</div>"
    )


def trial_row_html(data: TrialData, k: int, chosen: int) -> str:
    greedy = ""
    if data.greedy is not None:
        greedy = f"<td>{'no' if data.not_greedy[k] else 'yes'}</td>"
    delta = f"<td>{fmt(data.delta[k])}</td>" if data.delta is not None else ""
    mark = ' class="synsim-chosen"' if k == chosen else ""
    return (
        f'<tr data-trial="{k}"{mark}><td>{k}</td><td>{int(data.labels[k])}</td><td>{int(data.actions[k])}</td>'
        f"{greedy}<td>{int(data.rewards[k])}</td><td>{fmt(data.q_selected[k])}</td>{delta}</tr>"
    )


def trials_table_html(data: TrialData, chosen: int = 0, rows: int = TABLE_ROWS) -> str:
    """The first ``rows`` trials (and the chosen one, if later): label, selected action, reward, q_s, δ."""
    head = ["trial", "label", "selected action"]
    head += ["greedy"] if data.greedy is not None else []
    head += ["reward", "q_s"] + (["δ = r &minus; q_s"] if data.delta is not None else [])
    shown = list(range(min(rows, data.n)))
    body = "".join(trial_row_html(data, k, chosen) for k in shown)
    if chosen >= len(shown):
        body += f'<tr><td colspan="{len(head)}">&hellip;</td></tr>' + trial_row_html(data, chosen, chosen)
    header = "".join(f"<th>{h}</th>" for h in head)
    return (
        f'<table class="synsim-trials" data-step="{data.step}"><tr>{header}</tr>{body}</table>'
        f'<div class="synsim-note">first {len(shown)} of {data.n} trials; the chosen trial highlighted</div>'
    )


def pathway_html(pathway: Pathway | None, data: TrialData, layer_sizes) -> str:
    """The chosen trial in words: its action, reward and δ, and where its feedback went."""
    if pathway is None:
        return ""
    k = pathway.trial
    delta = f", δ {fmt(data.delta[k])}" if data.delta is not None else ""
    sources = (
        "every output sends its error onehot(label) &minus; softmax(q) (error-backprop), the selected action is "
        "the greedy one"
        if data.every_output
        else f"only the selected output neuron {pathway.output} sends feedback"
    )
    hidden = "; ".join(
        f"layer {layer}: {pathway.neurons[layer - 1].size} of {layer_sizes[layer]} neurons"
        for layer in range(1, len(layer_sizes) - 1)
    )
    hidden = f"; feedback reaches {hidden}" if hidden else ""
    return (
        f'<div class="synsim-pathway" data-trial="{k}" data-output="{pathway.output[1]}" '
        f'data-synapses="{pathway.sids.size}">trial {k}: label {int(data.labels[k])}, selected action '
        f"{int(data.actions[k])}, reward {int(data.rewards[k])}, q_s {fmt(data.q_selected[k])}{delta}. "
        f"Feedback pathway: {sources}{hidden}; {pathway.sids.size} synapses have a post neuron with nonzero "
        "gated feedback.</div>"
    )


def class_counts_svg(counts: np.ndarray | None, width: int = 440, height: int = 90) -> str:
    """Per class: presented, selected and selected rightly this step, as grouped bars."""
    if counts is None:
        return ""
    counts = np.asarray(counts)
    n_classes = counts.shape[1]
    top = max(int(counts.max()), 1)
    group = (width - 4) / n_classes
    bar = group / 4
    kinds = ("presented", "selected", "correct")
    rows = {"selected": counts[0], "correct": counts[1], "presented": counts[2]}
    parts = []
    for c in range(n_classes):
        x0 = 2 + c * group
        for i, kind in enumerate(kinds):
            value = int(rows[kind][c])
            h = (height - 14) * value / top
            parts.append(
                f'<rect class="synsim-count" data-class="{c}" data-kind="{kind}" data-count="{value}" '
                f'x="{x0 + (i + 0.4) * bar:.1f}" y="{height - 12 - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COUNT_HEX[kind]}"><title>class {c}: {COUNT_WORDS[kind]} {value}</title></rect>'
            )
        parts.append(f'<text x="{x0 + group / 2:.1f}" y="{height - 2}" font-size="9" text-anchor="middle">{c}</text>')
    legend = "".join(
        f'<span class="synsim-swatch" style="background:{COUNT_HEX[k]}"></span>{COUNT_WORDS[k]}' for k in kinds
    )
    return (
        f'<div class="synsim-title">selections per class this step (max {top})</div>'
        f'<div class="synsim-legend">{legend}</div>'
        f'<svg class="synsim-class-counts" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def no_trials_html(model) -> str:
    name = html.escape(model.rule.name or type(model.rule).__name__)
    return (
        f'<div class="synsim-title">trials ({name})</div><div class="synsim-note synsim-no-trials">no trials '
        "recorded yet: each agent step runs the minibatch as trials (a fast-forward or a reset records none); "
        "take a step</div>"
    )
