"""One report on a population under a policy: its automaton (reachable, visited, canonical name), its state
occupancy, the fate of single-synapse flips, and the entropy of its cells against the exploration floor."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._twins import engine_factory
from .automaton import reachable_states, tied_states, visited_mask
from .damage_stats import DamageStatistics, damage_statistics
from .info import cell_entropy, exploration_floor, lagged_mutual_information
from .occupancy import occupancy, occupied_count, record_states, top_states
from .rulenames import canonical_rule_name, rule_name

__all__ = ["PopulationReport", "format_report", "population_report"]


@dataclass
class PopulationReport:
    """What :func:`population_report` measured; :func:`format_report` writes it as markdown."""

    scenario: str
    policy: str
    n_synapses: int
    n_states: int
    n_reachable: int
    n_visited: int
    n_ties: int
    canonical_name: str
    rule_name: str
    steps: int
    warmup: int
    mean_occupied: float
    max_occupied: int
    top_states: list[tuple[int, str, float]]
    damage: DamageStatistics
    epsilon: float
    mean_cell_entropy: float
    entropy_floor: float
    near_floor: float  # share of synapses within 0.05 bits of the floor
    mean_mi_lag1: float
    seed: int
    settings: dict = field(default_factory=dict)

    @property
    def damage_fractions(self) -> dict[str, float]:
        return self.damage.fractions

    @property
    def median_time_to_flip(self) -> float | None:
        return self.damage.median_time_to_flip


def _describe(policy, scenario) -> str:
    if policy is None:
        value = scenario["policy"]["file"]
        return (
            f"{value} ({scenario['policy']['mode']})" if value else f"learned in the run ({scenario['policy']['mode']})"
        )
    return str(policy) if not hasattr(policy, "q") else "a Policy object"


def population_report(
    scenario,
    policy=None,
    *,
    steps: int = 500,
    warmup: int = 500,
    n_perturbations: int = 100,
    damage_steps: int = 200,
    seed: int = 0,
) -> PopulationReport:
    """Run ``scenario`` (with ``policy`` in place of its own, if given: a Policy, frozen, or a policy file
    name as ``policy.file`` takes it) for ``warmup`` steps, record ``steps`` more, and measure:

    * the automaton of the policy the run used (after the warm-up, for an adaptive run):
      reachable states, reachable states visited (non-zero Q row), ties, canonical name;
    * the state occupancy: mean number of occupied states per step, the top states;
    * :func:`damage_statistics` of ``n_perturbations`` single-synapse flips, applied after
      four start steps spread over the recorded window (``warmup + k * steps // 4``) and
      followed ``damage_steps`` steps (heal / latent / spread, time to reward flip);
    * each synapse's action entropy against :func:`exploration_floor`, and the mean lag-1
      mutual information.

    The flips are drawn from ``seed``; the simulation's randomness is the scenario's.
    """
    engine = engine_factory(scenario, policy)()
    for _ in range(warmup):
        engine.step()
    rule = engine.simulation.rule
    if not hasattr(rule, "policy"):
        raise ValueError(f"a population report needs a synaptic_rl scenario, this one runs {rule.name!r}")
    used = rule.policy
    space = used.state_space
    states, actions, _ = record_states(engine, steps, actions=True)
    occ = occupancy(states, space.n_states)
    counts = occupied_count(occ)
    reachable = reachable_states(space)
    seen = visited_mask(used)
    labels = space.labels()
    starts = sorted({warmup + k * (steps // 4) for k in range(4)})
    damage = damage_statistics(scenario, n_perturbations, steps=damage_steps, warmup=starts, seed=seed, policy=policy)
    entropy = cell_entropy(actions)
    floor = exploration_floor(used.epsilon)
    source = getattr(scenario, "source", None)
    return PopulationReport(
        scenario=Path(source).stem if source else "(in memory)",
        policy=_describe(policy, scenario),
        n_synapses=int(states.shape[1]),
        n_states=space.n_states,
        n_reachable=int(reachable.size),
        n_visited=int(seen[reachable].sum()),
        n_ties=int(tied_states(used)[reachable].sum()),
        canonical_name=canonical_rule_name(used),
        rule_name=rule_name(used),
        steps=steps,
        warmup=warmup,
        mean_occupied=float(counts.mean()),
        max_occupied=int(counts.max()),
        top_states=[(s, labels[s], f) for s, f in top_states(occ, 10)],
        damage=damage,
        epsilon=used.epsilon,
        mean_cell_entropy=float(entropy.mean()),
        entropy_floor=floor,
        near_floor=float(np.mean(np.abs(entropy - floor) <= 0.05)),
        mean_mi_lag1=lagged_mutual_information(actions, 1, average=True) if steps > 1 else float("nan"),
        seed=seed,
        settings={"damage_steps": damage_steps, "n_perturbations": n_perturbations, "damage_starts": starts},
    )


def format_report(report: PopulationReport) -> str:
    """The report as markdown: a summary table, the top occupied states, the damage outcomes."""
    r = report
    f = r.damage_fractions
    median = r.median_time_to_flip
    lines = [
        f"# Population report: {r.scenario}",
        "",
        f"policy: {r.policy}; {r.n_synapses} synapses; warm-up {r.warmup} steps, then {r.steps} steps recorded; "
        f"flips drawn from seed {r.seed}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| states reachable from the initial memory | {r.n_reachable} of {r.n_states} "
        f"({r.n_states - r.n_reachable} unreachable) |",
        f"| reachable states the policy visited (non-zero Q row) | {r.n_visited} |",
        f"| visited reachable states with tied maxima | {r.n_ties} |",
        f"| occupied states per step | mean {r.mean_occupied:.2f}, max {r.max_occupied} |",
        f"| single-synapse flips: heal / latent / spread | {f['heal']:.0%} / {f['latent']:.0%} / {f['spread']:.0%} "
        f"(n = {r.damage.n}, each followed {r.settings.get('damage_steps')} steps) |",
        "| median steps until the reward first differs | "
        + ("never within the horizon" if median is None else f"{median:g} ({r.damage.time_to_flip.size} flips)")
        + " |",
        f"| mean action entropy per synapse | {r.mean_cell_entropy:.3f} bits |",
        f"| exploration floor (epsilon = {r.epsilon:g}) | {r.entropy_floor:.3f} bits |",
        f"| synapses within 0.05 bits of the floor | {r.near_floor:.0%} |",
        f"| mean lag-1 mutual information of a synapse's actions | {r.mean_mi_lag1:.3f} bits |",
        "",
        f"canonical rule name (reachable states only; `.` never visited, a/b/c/t ties): `{r.canonical_name}`",
        "",
        f"exact table name (not canonical): `{r.rule_name}`",
        "",
        "## Most occupied states",
        "",
        "| state | memory (actions; rewards) | mean fraction of synapses |",
        "|---|---|---|",
        *(f"| {s} | {label.replace('|', ';')} | {frac:.3f} |" for s, label, frac in r.top_states),
        "",
        "heal: twin identical to the base run again; latent: the reward never differed but a weight or memory "
        "still does; spread: the reward differed, reaching every synapse.",
    ]
    return "\n".join(lines) + "\n"
