"""Synaptic-level reinforcement learning (Bhargava, Rezaei, Lankarany 2022) as one rule.

Every synapse observes its local state (features of its own memory), takes the shared
Q policy's epsilon-greedy action (decrement / keep / increment: ``(a - 1) * alpha_s``),
and learns from one broadcast bit, R_t = +1 if the loss fell, else -1. The Q table is
shared state: it learns from every synapse's transition at once (docs/DESIGN.md, step 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...scenario import ScenarioError
from ..base import Change, MemoryField, Pass, Rule, RuleContext
from ..registry import register_rule
from .averaging import average_start, fraction_for_start, iterations_for_start
from .contexts import SynapseContext, feature_context, synapse_context
from .policy import N_ACTIONS, Policy, resolve_policy_path
from .sections import SECTIONS
from .state_space import StateSpace


def reward_for(loss: float, previous_loss: float) -> int:
    """R_t = +1 if the loss fell, else -1 (equal counts as -1; so does a first step without a baseline)."""
    return 1 if loss < previous_loss else -1


class WeightSteps:
    """Weight change per (is_bias, action): ``(a - 1) * alpha_s``, bias synapses scaled.

    ``table`` has shape (2, 3); ``table.ravel()[3 * is_bias + a]`` is a synapse's step.
    alpha_s (the paper's synaptic step) follows ``schedule`` ``[[iteration, value], ...]``.
    """

    def __init__(self, alpha_s: float, bias_step_scale: float, dtype, schedule=()):
        self.base = float(alpha_s)
        self.bias_step_scale = float(bias_step_scale)
        self.dtype = np.dtype(dtype)
        self.schedule = [(int(i), float(v)) for i, v in schedule]
        self.alpha_s = None
        self.table = None
        self.set_step(1)

    def alpha_s_at(self, step: int) -> float:
        value = self.base
        for start, scheduled in self.schedule:
            if step >= start:
                value = scheduled
        return value

    def set_step(self, step: int) -> np.ndarray:
        alpha = self.alpha_s_at(step)
        if alpha != self.alpha_s:
            self.alpha_s = alpha
            units = np.arange(N_ACTIONS) - 1.0
            self.table = np.array([units * alpha, units * alpha * self.bias_step_scale]).astype(self.dtype)
        return self.table


@dataclass(frozen=True)
class RewardSign:
    """Synaptic RL's broadcast: R_t = +1 if the loss fell, else -1."""

    reward: int

    def __float__(self) -> float:
        return float(self.reward)


def build_policy(scenario, state_space: StateSpace) -> Policy:
    p = scenario["policy"]
    kwargs = dict(epsilon=p["epsilon"], alpha_q=p["alpha_q"], gamma=p["gamma"], adaptive=p["mode"] == "adaptive")
    if p["actions"]:
        return Policy(state_space, q=np.eye(N_ACTIONS)[np.asarray(p["actions"]) + 1], **kwargs)
    if p["file"]:
        return Policy.load(resolve_policy_path(p["file"]), state_space, **kwargs)
    return Policy(state_space, **kwargs)


@register_rule
class SynapticRL(Rule):
    """A shared tabular Q policy over local state, one broadcast bit (the paper's rule).

    Args:
        policy: the shared :class:`Policy` (Q table, epsilon, alpha_q, gamma, adaptive or static).
        alpha_s: the synaptic step alpha_s (weight change ``(a - 1) * alpha_s``).
        bias_step_scale: bias synapses step by this times alpha_s (authors' code: 2).
        alpha_s_schedule: ``[[iteration, alpha_s], ...]``.
        average_start: adaptive runs average the Q table over the steps after this one.
        reward_baseline: what the loss must beat for R_t = +1: ``"previous_loss"`` (the paper: the
            loss of the weights before the step on the same data, a reference pass when the data
            change) or ``"running_average"`` (its exponential average, no reference pass).
        baseline_rate: rate g of the running average.
    """

    name = "synaptic_rl"
    summary = "shared Q table over local state; broadcast: the sign of the loss change (1 bit)"
    sections = SECTIONS
    needs_reference = True
    discrete_actions = True
    broadcast_label = "reward"
    output_files = ("policy.npz", "policy.json", "policy_final.npz", "policy_final.json")

    def __init__(
        self,
        policy: Policy,
        alpha_s=0.001,
        bias_step_scale=2.0,
        alpha_s_schedule=(),
        average_start=0,
        reward_baseline="previous_loss",
        baseline_rate=0.1,
    ):
        self.policy = policy
        self.reward_baseline = reward_baseline
        self.baseline_rate = baseline_rate
        self.needs_reference = reward_baseline == "previous_loss"
        self.alpha_s = alpha_s
        self.bias_step_scale = bias_step_scale
        self.alpha_s_schedule = alpha_s_schedule
        self.average_start = int(average_start)
        self.state_space = policy.state_space
        self.track_streak = "streak" in self.state_space.needs
        self.needs = frozenset({"activity"}) if "activity" in self.state_space.needs else frozenset()
        self.previous_loss = None
        self.q_sum = np.zeros_like(policy.q)  # sum of the tables after steps average_start + 1 .. step_count
        self.q_count = 0
        self.average_from = None  # the scenario's fraction and iterations, when built from one (for advice)
        self.iterations = None
        self.policy_source = None  # the policy file the table started from, if any

    @staticmethod
    def check_scenario(scenario) -> None:
        policy = scenario["policy"]
        if policy["mode"] == "static" and not policy["file"] and not policy["actions"]:
            raise ScenarioError(
                "scenario key 'policy.file' is required when policy.mode = 'static': "
                "give 'shipped' for the policy included with synapse_sim, or a path (or write the actions out: "
                "policy.actions)"
            )
        if policy["actions"]:
            if policy["file"]:
                raise ScenarioError(
                    f"scenario keys 'policy.actions' and 'policy.file' ({policy['file']!r}) both give the policy; "
                    "keep one"
                )
            n_states = StateSpace.from_spec(scenario["state"]["features"]).n_states
            if len(policy["actions"]) != n_states:
                raise ScenarioError(
                    f"scenario key 'policy.actions' has {len(policy['actions'])} actions, but the state space "
                    f"{scenario['state']['features']} has {n_states} states: give one action per state"
                )
        synapse = scenario["synapse"]
        if synapse["alpha_s"] == 0 and not any(a > 0 for _, a in synapse["alpha_s_schedule"]):
            raise ScenarioError(
                "scenario key 'synapse.alpha_s' = 0 (and no alpha_s_schedule entry > 0): no weight would ever "
                "change, so the run cannot learn; set synapse.alpha_s > 0 (the paper: 0.001)"
            )

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> SynapticRL:
        state_space = StateSpace.from_spec(scenario["state"]["features"])
        fraction, iterations = scenario["policy"]["average_from"], scenario["run"]["iterations"]
        rule = cls(
            build_policy(scenario, state_space),
            alpha_s=scenario["synapse"]["alpha_s"],
            bias_step_scale=scenario["network"]["bias_step_scale"],
            alpha_s_schedule=scenario["synapse"]["alpha_s_schedule"],
            average_start=average_start(fraction, iterations),
            reward_baseline=scenario["synapse"]["reward_baseline"],
            baseline_rate=scenario["synapse"]["baseline_rate"],
        )
        rule.average_from, rule.iterations = fraction, iterations
        if scenario["policy"]["file"]:
            rule.policy_source = resolve_policy_path(scenario["policy"]["file"])
        return rule

    def input_files(self) -> tuple:
        """Files the run reads and must never write over: the policy it starts from."""
        base = self.policy_source
        return () if base is None else (base.with_suffix(".npz"), base.with_suffix(".json"))

    def bind(self, topology, dtype) -> SynapticRL:
        super().bind(topology, dtype)
        self.weight_steps = WeightSteps(self.alpha_s, self.bias_step_scale, dtype, self.alpha_s_schedule)
        self.step_offset = topology.is_bias.astype(np.int8) * 3
        return self

    def params(self) -> dict:
        p = self.policy
        return {
            "state_space": self.state_space.spec(),
            "epsilon": p.epsilon,
            "alpha_q": p.alpha_q,
            "gamma": p.gamma,
            "adaptive": p.adaptive,
            "alpha_s": self.alpha_s,
            "bias_step_scale": self.bias_step_scale,
            "alpha_s_schedule": [list(x) for x in self.alpha_s_schedule],
            **(
                {"reward_baseline": self.reward_baseline, "baseline_rate": self.baseline_rate}
                if self.reward_baseline != "previous_loss"
                else {}
            ),
        }

    def memory_fields(self) -> tuple[MemoryField, ...]:
        space = self.state_space
        return (
            MemoryField("action_history", "int8", (space.action_memory,), init=1, values=(0, 1, 2)),
            MemoryField("reward_history", "int8", (space.reward_memory,), init=0, shared=True, values=(-1, 0, 1)),
            MemoryField("streak", "int32", init=0, values=tuple(range(6))),
            MemoryField("explored", "bool", init=False, values=(False, True)),
            MemoryField("state", "int64", derived=True, values=tuple(range(min(space.n_states, 1000)))),
        )

    def shared_state(self) -> dict[str, np.ndarray]:
        return {
            "previous_loss": np.array(self.previous_loss, dtype=np.float64),
            "q": self.policy.q.copy(),
            "q_sum": self.q_sum.copy(),
            "q_count": np.array(self.q_count),
        }

    def load_shared_state(self, state) -> None:
        """Restore the table and the running sum of the averaging window.

        The sum covers steps ``step - q_count + 1 .. step``. If this rule's window (from its
        ``average_start``) starts at or after the checkpoint's step, none of the sum belongs to
        it and it restarts empty: exactly what a run of this length would hold. If the window
        starts earlier but elsewhere than the sum, the missing steps are gone; the rule then
        keeps the sum's own start, so the label of the averaged table states its real window
        (the runner refuses such a resume before it gets here: :meth:`resume_conflict`).
        """
        self.previous_loss = float(state["previous_loss"])
        self.policy.q[...] = state["q"]
        self.q_sum[...] = state["q_sum"]
        self.q_count = int(state["q_count"])
        self.policy._refresh_greedy()
        if "step" in state and self.policy.adaptive:
            done = int(state["step"])
            if self.average_start >= done:
                self.q_sum[...] = 0.0
                self.q_count = 0
            elif self.resume_conflict(state) is not None:
                self.average_start = done - self.q_count

    def resume_conflict(self, state) -> str | None:
        """Why a checkpoint cannot continue into this rule's averaging window exactly, else None."""
        if not self.policy.adaptive or "step" not in state:
            return None
        done, count = int(state["step"]), int(state["q_count"])
        start = self.average_start
        if start >= done or (count and start == done - count):
            return None
        first = done - count  # the sum covers steps first + 1 .. done
        if not count:
            missing = f"it has averaged no step yet, so the tables of steps {start + 1}..{done} were never kept"
        elif start < first:
            missing = (
                f"its running sum covers steps {first + 1}..{done}; the tables of steps {start + 1}..{first} are gone"
            )
        else:
            missing = f"its running sum covers steps {first + 1}..{done} and cannot drop steps {first + 1}..{start}"
        lines = [
            f"the averaged policy (policy.npz) would not be exact: the averaging window now starts after step "
            f"{start} (policy.average_from = {self.average_from} of run.iterations = {self.iterations}), but the run "
            f"has done {done} steps and {missing}"
        ]
        if self.average_from and self.iterations:
            options = []
            n = iterations_for_start(self.average_from, done)
            if n is not None:
                options.append(f"--set run.iterations=N with N >= {n} (the window then starts after the steps done)")
            fraction = fraction_for_start(first if count else done, self.iterations)
            if fraction is not None:
                where = f"covers steps {first + 1}..{self.iterations}" if count else "starts after the steps done"
                options.append(f"--set policy.average_from={fraction!r} (the window then {where})")
            if options:
                lines.append("resume with " + ", or ".join(options))
        return "; ".join(lines)

    def step_size(self, step: int) -> float:
        return self.weight_steps.alpha_s

    # --- the step ------------------------------------------------------------------
    def begin_step(self, step: int) -> None:
        self.weight_steps.set_step(step)

    def draw(self, rng, n_synapses: int, step: int) -> dict[str, np.ndarray]:
        """Which synapses explore (uniform < epsilon) and, for the explorers in sid order, a random action.

        Drawing actions only for explorers keeps the cost low when epsilon is small.
        """
        explore = rng.random(n_synapses, dtype=np.float32) < np.float32(self.policy.epsilon)
        random_actions = np.zeros(n_synapses, dtype=np.int8)
        random_actions[explore] = rng.integers(0, N_ACTIONS, int(np.count_nonzero(explore)), dtype=np.int8)
        return {"explore": explore, "random_action": random_actions}

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(activity="activity" in self.needs),)

    def propose_local(self, ctx: RuleContext) -> Change:
        m = ctx.memory
        action = self.policy.act_one(m["state"], ctx.draws["explore"], ctx.draws["random_action"])
        history = m["action_history"]
        memory = {"action_history": (action, *history[:-1]), "explored": ctx.draws["explore"]}
        if self.track_streak:
            memory["streak"] = m["streak"] + 1 if action == history[0] else 1
        dw = self.weight_steps.table[int(ctx.is_bias), action]
        return Change(dw=dw, memory=memory, report={"state": m["state"], "action": action})

    def propose_batch(self, ctx: RuleContext) -> Change:
        m = ctx.memory
        actions = self.policy.act(m["state"], ctx.draws["explore"], ctx.draws["random_action"])
        is_bias = ctx.is_bias
        offset = self.step_offset if is_bias is self.topology.is_bias else is_bias.astype(np.int8) * 3
        dw = self.weight_steps.table.ravel().take(offset + actions)
        history = m["action_history"]
        shifted = np.empty_like(history)
        shifted[:, 1:] = history[:, :-1]
        shifted[:, 0] = actions
        memory = {"action_history": shifted, "explored": ctx.draws["explore"]}
        if self.track_streak:
            memory["streak"] = np.where(actions == history[:, 0], m["streak"] + 1, 1).astype(np.int32)
        return Change(dw=dw, memory=memory, report={"state": m["state"], "action": actions})

    def reference(self, evaluation) -> None:
        self.previous_loss = evaluation.loss

    def broadcast(self, evaluations, step: int) -> RewardSign:
        loss = evaluations[0].loss
        if self.reward_baseline == "running_average":
            first = self.previous_loss is None or np.isnan(self.previous_loss)
            reward = -1 if first else reward_for(loss, self.previous_loss)
            self.previous_loss = (
                loss if first else self.previous_loss + self.baseline_rate * (loss - self.previous_loss)
            )
            return RewardSign(reward)
        reward = reward_for(loss, self.previous_loss)
        self.previous_loss = loss
        return RewardSign(reward)

    def sample_broadcast(self, rng, n_examples: int = 8) -> RewardSign:
        return RewardSign(int(rng.choice([-1, 1])))

    def update_local(self, ctx: RuleContext) -> Change:
        rewards = ctx.memory["reward_history"]
        return Change(memory={"reward_history": (ctx.broadcast.reward, *rewards[:-1])})

    def update_batch(self, ctx: RuleContext) -> Change:
        rewards = ctx.memory["reward_history"]
        return Change(memory={"reward_history": np.array([ctx.broadcast.reward, *rewards[:-1]], dtype=np.int8)})

    def synapse_context(self, ctx: RuleContext) -> SynapseContext:
        """The features' view of one synapse (:class:`SynapseContext`) from the rule's local context."""
        return synapse_context(ctx, self.topology)

    def observe_local(self, ctx: RuleContext) -> Change:
        state = self.state_space.index_local(synapse_context(ctx, self.topology))
        return Change(memory={"state": state}, report={"next_state": state})

    def observe_batch(self, ctx: RuleContext) -> Change:
        state = self.state_space.index_batch(feature_context(ctx, self.topology))
        return Change(memory={"state": state}, report={"next_state": state})

    def learn(self, reports, broadcast, step: int) -> None:
        self.policy.update(reports["state"], reports["action"], reports["next_state"], broadcast.reward)
        if self.policy.adaptive and step > self.average_start:
            self.q_sum += self.policy.q
            self.q_count += 1

    def save_outputs(self, out_dir, learned_by: dict, steps: int) -> None:
        """``policy.npz`` / ``.json``: the averaged table (adaptive) or the policy used (static);
        adaptive runs also write ``policy_final`` (the table after the last step)."""
        if self.policy.adaptive:
            if self.q_count:
                first = steps - self.q_count + 1
                window = f"mean of the Q table over steps {first}..{steps}"
                averaged = {"average_window": [first, steps]}
            else:
                window = (
                    f"Q table after step {steps} (the averaging window, steps after {self.average_start}, not reached)"
                )
                averaged = {"average_window": None}
            self.averaged_policy().save(
                out_dir / "policy", learned_by=learned_by, steps=steps, table=window, **averaged
            )
            table = f"Q table after step {steps}"
            self.policy.save(out_dir / "policy_final", learned_by=learned_by, steps=steps, table=table)
        else:
            table = "the static policy used"
            self.policy.save(out_dir / "policy", learned_by=learned_by, steps=steps, table=table)

    def averaged_policy(self) -> Policy:
        """The Q table averaged over the averaging window (an adaptive policy's table drifts
        step to step; its time average is the stable rule to reuse frozen)."""
        q = self.q_sum / self.q_count if self.q_count else self.policy.q
        p = self.policy
        return Policy(self.state_space, p.epsilon, p.alpha_q, p.gamma, adaptive=False, q=q)
