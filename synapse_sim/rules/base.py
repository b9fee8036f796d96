"""The rule protocol: what a synapse remembers, what is broadcast, how a synapse acts and learns.

One step, for every rule (docs/DESIGN.md, "Rules: the step, generalised"):

1. **propose** (per synapse): from its memory and this step's random numbers, a
   weight change applied now and/or weight *offsets* for the evaluation passes;
2. **evaluate** (the task): the forward passes the rule asks for (:class:`Pass`);
3. **broadcast** (global, the only non-local value): a function of the evaluations;
4. **update** (per synapse): weight and memory from its memory, its neurons and the broadcast;
5. **observe** (per synapse): memory derived from the rest (synaptic RL's state index);
6. **learn** (shared state): from the synapses' aggregated reports, never from one synapse directly.

Each per-synapse phase has a one-synapse form (``*_local``; the Mesa agent calls it)
and an all-synapses form (``*_batch``; the vectorised backend), both receiving one
:class:`RuleContext` and returning a :class:`Change`. :func:`synapse_sim.rules.check_rule`
proves the two forms agree. The engine owns the step order, the randomness, the
counting and the records; a rule owns only its arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True)
class MemoryField:
    """One field of a synapse's memory.

    ``shape`` is per synapse; ``shared`` fields hold what every synapse received
    alike (the broadcast history): the agent view keeps a copy in every agent, the
    vectorised backend one. ``derived`` fields are recomputed by ``observe`` and not
    checkpointed. ``values`` lists the allowed values of a discrete field (for
    :func:`check_rule`'s random contexts); a float field is sampled around ``scale``.
    A ``reverse`` field is the weight of the synapse's feedback partner on the reverse edge
    (post -> pre; Q-AGREL's feedback synapses): the agent view keeps it in an agent of its own
    (:class:`~synapse_sim.agents.FeedbackSynapseAgent`), the vectorised backend as an array.
    """

    name: str
    dtype: str
    shape: tuple[int, ...] = ()
    init: float = 0
    shared: bool = False
    derived: bool = False
    values: tuple | None = None
    scale: float = 1.0
    reverse: bool = False

    def initial(self, n: int) -> np.ndarray:
        shape = self.shape if self.shared else (n, *self.shape)
        return np.full(shape, self.init, dtype=self.dtype)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = self.shape if self.shared else (n, *self.shape)
        if self.values is not None:
            return rng.choice(np.array(self.values, dtype=self.dtype), size=shape)
        return (rng.standard_normal(shape) * self.scale).astype(self.dtype)


@dataclass(frozen=True)
class Trial:
    """A pass run as trials (Q-AGREL): each example's output units are Q values, one action is
    selected per example (greedy with probability 1 - ``epsilon``, else a sample of
    softmax(q / ``temperature``)), rewarded 1 if it is the label, and only the selected unit
    sends feedback back through the network: through the forward weights (``feedback`` None)
    or through the feedback weights the rule keeps in the memory field ``feedback`` (sid
    order, the layout of the forward weights). The task returns, per example, the action,
    reward and selected Q value, and per layer each post neuron's gated feedback. With
    ``output = "error"`` every output sends its cross-entropy error instead (onehot(label) -
    softmax(q)), with no selection: error-backprop's twin on the same machinery."""

    epsilon: float = 0.0
    temperature: float = 1.0
    feedback: str | None = None
    output: str = "selected"  # "selected": Q-AGREL; "error": every output sends onehot(label) - softmax(q)


@dataclass(frozen=True)
class Episode:
    """A pass run as one episode of a control task's environment (:mod:`synapse_sim.tasks.episodes`):
    the outputs are a softmax policy, one action is sampled per time step, and the trace's
    columns are the time steps. ``noise_std``: Gaussian noise on every pre-activation (the
    output logits too) of a noisy pass run beside the clean one; ``act_on``: the action is
    sampled from the ``"clean"`` or the ``"noisy"`` policy; ``probe``: record per step the
    log-probability change of the action, dp_t = log pi~(a_t) - log pi(a_t), and the noise power
    Z_t = ||xi_t||^2 (NRL); ``gradient``: record each neuron's d log pi(a_t) / d a through the
    clean pass as its feedback (REINFORCE). The trace's inputs are the noisy pass's when there is
    noise, else the clean pass's. ``policy = "spiking"``: the neurons spike instead
    (:mod:`synapse_sim.tasks.spiking`; population vote, ``epsilon``-greedy, output credit
    ``credit``) and the feedback is each neuron's signed eligibility."""

    noise_std: float = 0.0
    act_on: str = "clean"
    probe: bool = False
    gradient: bool = False
    policy: str = "softmax"
    epsilon: float = 0.0
    credit: str = "chosen"
    implicit_noise: bool = False  # the noise read as noisy minus clean pre-activation (NRL's hardware variant)
    reference_passes: int = 0  # K > 0: the reference policy is the mean of K noisy passes (no clean pass)
    # per layer, each neuron's running mean of its pre-activation: the noise is then read as noisy
    # pre-activation minus that mean (RMHL's exploratory-Hebbian variant); the record returns it updated
    activity_mean: tuple | None = None
    activity_rate: float = 0.66


@dataclass(frozen=True)
class Pass:
    """One forward pass over the step's minibatch that a rule asks the task for (one loss evaluation).

    ``offset``: index of the proposal's weight offset added for this pass (None: the
    weights as they are); ``noise_std``: Gaussian noise on every neuron's pre-activation;
    ``trace``: keep per-example losses, layer inputs and noise; ``activity``: mean
    activity per neuron; ``record``: this pass's loss and accuracy enter the step's
    recorded training loss and accuracy (the mean over recorded passes); ``trial``: run
    the examples as trials with feedback from the selected output (:class:`Trial`);
    ``episode``: run one episode of a control task (:class:`Episode`).
    """

    offset: int | None = None
    noise_std: float = 0.0
    trace: bool = False
    activity: bool = False
    record: bool = True
    trial: Trial | None = None
    episode: Episode | None = None


@dataclass(slots=True)
class RuleContext:
    """What one synapse (local form: scalars) or all synapses (batch form: arrays in sid order) know.

    ``memory`` maps the rule's memory fields to their values; ``draws`` this step's
    random numbers (keyed by seed, step and sid); ``broadcast`` the rule's global
    value (update phase); ``pre_activity`` / ``post_activity`` the mean activity of
    the synapse's two neurons over the last pass that asked for it; ``coincidence``
    the rule's weighted mean of pre activity x post noise (see
    :func:`synapse_sim.tasks.correlate`). Rules read it and never change it (it is not
    frozen only because the agent view builds one per synapse and phase, and frozen
    dataclasses are slow to build).
    """

    step: int
    sid: Any
    weight: Any
    is_bias: Any
    memory: Mapping[str, Any] = EMPTY
    draws: Mapping[str, Any] = EMPTY
    broadcast: Any = None
    pre_activity: Any = None
    post_activity: Any = None
    coincidence: Any = None


@dataclass(slots=True)
class Change:
    """What a phase returns: a weight change ``dw`` (added: ``w + dw``; None: none),
    replaced memory fields, weight offsets for the passes (propose only) and a report
    for the shared state's ``learn``."""

    dw: Any = None
    memory: Mapping[str, Any] = EMPTY
    offsets: tuple = ()
    report: Mapping[str, Any] = EMPTY


NO_CHANGE = Change()


class Rule:
    """Base class of a synapse-local learning rule; subclasses set ``name`` and override phases.

    Hyperparameters are the constructor's keyword arguments, stored as given
    (:meth:`params` reads them back); :meth:`from_scenario` builds a rule from the
    scenario sections it owns (``sections``), so a scenario key of another rule is
    refused by name. ``needs`` names neuron-level inputs the engine must fill
    (``"activity"``, ``"coincidence"``); ``needs_reference`` asks for the loss of the
    current weights on a new minibatch before the step (synaptic RL's L_{t-1});
    ``discrete_actions`` says that propose reports an ``"action"`` (0, 1, 2) per synapse
    (otherwise the records show the sign of each synapse's weight change);
    ``coincidence_signal`` which per-neuron signal of the traced pass ``coincidence``
    correlates with the pre activity: ``"noise"`` (node perturbation) or ``"feedback"``
    (a :class:`Trial`'s gated feedback); ``needs_classes`` that it runs on classification
    tasks only; ``needs_episodes`` that it runs on control tasks only (its passes are episodes).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    sections: ClassVar[dict] = {}
    needs: ClassVar[frozenset[str]] = frozenset()
    needs_reference: ClassVar[bool] = False
    discrete_actions: ClassVar[bool] = False
    broadcast_label: ClassVar[str] = "broadcast"
    coincidence_signal: ClassVar[str] = "noise"
    needs_classes: ClassVar[bool] = False  # a classification task only (its outputs are the classes)
    needs_episodes: ClassVar[bool] = False  # a control task only (its passes are episodes)

    # --- construction and records -------------------------------------------------
    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> Rule:
        raise NotImplementedError

    def bind(self, topology, dtype) -> Rule:
        """Remember the network the rule runs on (rules that need the shape use it)."""
        self.topology = topology
        self.dtype = np.dtype(dtype)
        return self

    def params(self) -> dict:
        return {}

    def memory_fields(self) -> tuple[MemoryField, ...]:
        return ()

    def shared_state(self) -> dict[str, np.ndarray]:
        """The rule's state shared by all synapses (checkpointed)."""
        return {}

    def load_shared_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore :meth:`shared_state` (keys absent from ``state`` keep their values)."""

    def save_outputs(self, out_dir, learned_by: dict, steps: int) -> None:
        """Write the rule's own results (a learned table, say) into a finished run's folder."""

    def step_size(self, step: int) -> float:
        """The rule's step size at ``step``, for the records."""
        return float("nan")

    def summarize(self, broadcast) -> float:
        """The broadcast as one number, for the records."""
        return float(broadcast)

    # --- the step --------------------------------------------------------------------
    def begin_step(self, step: int) -> None:
        """Global bookkeeping before the step (schedules)."""

    def draw(self, rng: np.random.Generator, n_synapses: int, step: int) -> dict[str, np.ndarray]:
        """This step's random numbers, indexed by sid (a synapse reads its own entry)."""
        return {}

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(),)

    def start_pass(self) -> Pass:
        """The pass that evaluates the network as it stands before the first step (not counted)."""
        return Pass(activity="activity" in self.needs)

    def propose_local(self, ctx: RuleContext) -> Change:
        return NO_CHANGE

    def propose_batch(self, ctx: RuleContext) -> Change:
        return NO_CHANGE

    def reference(self, evaluation) -> None:
        """The loss of the current weights on a new minibatch (only if ``needs_reference``)."""

    def broadcast(self, evaluations: list, step: int):
        raise NotImplementedError

    def coincidence_weights(self, broadcast):
        """Per-example weights for ``coincidence`` (rules that need it)."""
        return None

    def initial_memory(self, rng: np.random.Generator, n_synapses: int) -> dict[str, np.ndarray]:
        """Random initial values of memory fields, drawn from ``rng`` (keyed by the run's seed);
        fields not returned start at their ``init``."""
        return {}

    def update_local(self, ctx: RuleContext) -> Change:
        return NO_CHANGE

    def update_batch(self, ctx: RuleContext) -> Change:
        return NO_CHANGE

    def observe_local(self, ctx: RuleContext) -> Change:
        return NO_CHANGE

    def observe_batch(self, ctx: RuleContext) -> Change:
        return NO_CHANGE

    def learn(self, reports: Mapping[str, np.ndarray], broadcast, step: int) -> None:
        """Update the shared state from the synapses' reports (arrays in sid order)."""

    def sample_broadcast(self, rng: np.random.Generator, n_examples: int = 8):
        """A plausible broadcast for :func:`check_rule`'s random contexts."""
        return float(rng.standard_normal())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def scalar(dtype, value) -> np.generic:
    """``value`` as a NumPy scalar of ``dtype``: rules multiply in the weights' precision in both forms."""
    return np.dtype(dtype).type(value)


def scheduled(value: float, schedule, step: int) -> float:
    """``value``, replaced by each ``[from_step, new_value]`` of ``schedule`` (sorted) whose step has come."""
    for start, new in schedule:
        if step >= start:
            value = new
    return float(value)
