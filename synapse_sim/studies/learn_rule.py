"""Meta-learn a rule's parameters for learning speed: ``synapse-sim learn-rule FAMILY``.

The outer loop is CMA-ES (pycma) over a rule family's parameters theta. A candidate's fitness is
the mean held-out accuracy over its lifetimes' checks (the area under the learning curve: speed
counts), averaged over the meta-training tasks and lifetime seeds. The tasks never include
notMNIST: random teacher networks (784 inputs and 10 classes among them, so the test's scale is
no extrapolation), scikit-learn's 8x8 digits and the decision boundary. Each lifetime is a run of
the study's executor (:func:`.jobs.run_jobs`: Dask, resumable run folders).

Deterministic from ``--seed``: CMA-ES draws its samples from a generator of its own (never NumPy's
global one), pickled with its state after every generation, so a study killed at any point
(kill -9 included) continues with the same candidates; the lifetimes already run are read back.
The best theta so far is written as a rule file (``rule.toml``: the family's scenario section).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..scenario import MAX_SCALE, Scenario, _toml_value
from ..schema import clip_to_schema
from .jobs import Job, failed, run_jobs, run_or_report

LOG_MAX_SCALE = math.log(MAX_SCALE)


@dataclass(frozen=True)
class Parameter:
    """One meta-parameter: its scenario key in the family's section, how CMA-ES's unbounded coordinate
    maps to it (``"log"``: exp, ``"unit"``: a logistic into (0, 1), ``"linear"``), and its start value."""

    key: str
    transform: str
    start: float

    def value(self, x: float) -> float:
        if self.transform == "log":  # kept in (0, MAX_SCALE], where a scenario takes a step: a far candidate
            return float(math.exp(max(x, -700.0))) if x < LOG_MAX_SCALE else MAX_SCALE  # learns nothing or diverges
        if self.transform == "unit":
            return float(1.0 / (1.0 + math.exp(-x))) if x > -700.0 else 0.0  # exp(709.8) overflows a float
        return float(x)

    def coordinate(self) -> float:
        if self.transform == "log":
            return math.log(self.start)
        if self.transform == "unit":
            return math.log(self.start / (1.0 - self.start))
        return self.start


@dataclass(frozen=True)
class Family:
    """A rule family: the rule, its meta-parameters theta, fixed keys, and how theta becomes scenario keys
    (``build``; by default each parameter is the key of the same name in the rule's own section)."""

    rule: str
    parameters: tuple[Parameter, ...]
    fixed: tuple[tuple[str, object], ...] = ()
    build: Callable[[dict], dict] | None = None

    def theta(self, x) -> dict:
        return {p.key: p.value(float(c)) for p, c in zip(self.parameters, x, strict=True)}

    def settings(self, x) -> dict:
        """theta as scenario keys, each inside its schema bounds (a far candidate runs at the edge, and diverges
        or scores low, rather than stopping the study)."""
        theta = self.theta(x)
        values = self.build(theta) if self.build else {f"{self.rule}.{k}": v for k, v in theta.items()}
        values = {k: clip_to_schema(k, v) for k, v in values.items()}
        return {**values, **{(k if "." in k else f"{self.rule}.{k}"): v for k, v in self.fixed}}


def momentum_family(broadcast: str) -> Family:
    return Family(
        "momentum_search",
        (
            Parameter("c", "log", 0.002),
            Parameter("decay", "log", 1e-4),
            Parameter("beta", "linear", 0.0),
            Parameter("rho_kept", "unit", 0.5),
            Parameter("rho_dropped", "unit", 0.5),
            Parameter("eta", "log", 0.01),
        ),
        (("broadcast", broadcast),),
    )


# the tabular family's default state: synaptic RL's own last action and last reward, a_{t-1} x R_{t-1}
# (3 x 3 states: a reward is -, + or none yet)
TABULAR_FEATURES = [{"name": "last_actions", "n": 1}, {"name": "last_rewards", "n": 1}]
TABULAR_STATES = 9
MAX_TABULAR_STATES = 243  # one CMA-ES coordinate per state
# alpha_s_t = alpha_s / (1 + decay t) as synaptic RL's step schedule: its value at these steps (1,000 * 2^(k/2))
SCHEDULE_STEPS = tuple(round(1000 * 2 ** (k / 2)) for k in range(17))
ACTION_THRESHOLD = 1 / 3  # a coordinate below -1/3 decrements, above +1/3 increments, else keeps


def tabular_settings(theta: dict, features=None) -> dict:
    """A static synaptic-RL policy (one action per state of ``features``) with a decaying step, as scenario keys."""
    n = len([k for k in theta if k.startswith("action_")])
    actions = [
        0 if abs(theta[f"action_{s}"]) <= ACTION_THRESHOLD else int(np.sign(theta[f"action_{s}"])) for s in range(n)
    ]
    alpha_s, decay = theta["alpha_s"], theta["decay"]
    return {
        "state.features": features or TABULAR_FEATURES,
        "policy.mode": "static",
        "policy.actions": actions,
        "policy.epsilon": theta["epsilon"],
        "synapse.alpha_s": alpha_s,
        "synapse.alpha_s_schedule": [[t, alpha_s / (1.0 + decay * t)] for t in SCHEDULE_STEPS],
    }


def tabular_family(features=None) -> Family:
    """The tabular family on a state space built from registered features (default: a_{t-1} x R_{t-1})."""
    from ..rules.synaptic_rl.state_space import StateSpace

    features = features or TABULAR_FEATURES
    n_states = StateSpace.from_spec(features).n_states
    if n_states > MAX_TABULAR_STATES:
        raise ValueError(
            f"the state space {features} has {n_states} states; the tabular family learns one action per state, "
            f"at most {MAX_TABULAR_STATES}: choose fewer or smaller features"
        )
    return Family(
        "synaptic_rl",
        (
            *(Parameter(f"action_{s}", "linear", 0.0) for s in range(n_states)),
            Parameter("alpha_s", "log", 0.001),
            Parameter("decay", "log", 1e-4),
            Parameter("epsilon", "unit", 0.1),
        ),
        build=functools.partial(tabular_settings, features=features),
    )


FAMILIES = {
    "momentum_search": momentum_family("real"),
    "momentum_search_bit": momentum_family("bit"),
    "tabular": tabular_family(),
}


def meta_tasks(size: str = "full") -> dict[str, dict]:
    """The meta-training tasks as scenario overrides; none reads notMNIST (``tests/test_learn_rule.py``).

    ``size = "tiny"``: small networks and data, for tests and the notebook."""
    classify = {"network.hidden_activation": "relu", "network.dtype": "float32", "task.validation_fraction": 0.25}
    if size == "tiny":
        return {
            "teacher_64_5": {
                **classify,
                "task.name": "teacher",
                "network.layers": [64, 5],
                "teacher.n_examples": 400,
                "task.batch_size": 100,
                "task.batch_interval": 50,
            },
            "boundary_2_8_1": {"task.name": "decision_boundary", "network.layers": [2, 8, 1], "task.n_points": 200},
        }
    teacher = {**classify, "task.name": "teacher", "task.batch_size": 2000, "task.batch_interval": 2000}
    return {
        "teacher_784_10": {**teacher, "network.layers": [784, 10]},
        "teacher_784_32_10": {**teacher, "network.layers": [784, 32, 10], "teacher.hidden": 64},
        "teacher_256_5": {**teacher, "network.layers": [256, 5], "teacher.clusters": 15, "teacher.noise": 0.4},
        "digits_64_10": {
            **classify,
            "task.name": "digits",
            "network.layers": [64, 10],
            "task.batch_size": 500,
            "task.batch_interval": 500,
        },
        "boundary_2_100_1": {
            "task.name": "decision_boundary",
            "network.layers": [2, 100, 1],
            "network.init_range": 1.0,
        },
    }


class Randn:
    """CMA-ES's sampler (pycma's ``randn`` option): its own generator, pickled with the strategy."""

    def __init__(self, seed: int):
        self.generator = np.random.default_rng(np.random.SeedSequence([int(seed), 18]))

    def __call__(self, *shape):
        return self.generator.standard_normal(shape)


@dataclass
class Study:
    family: str
    budget: int  # loss evaluations per lifetime (a step is one; a reference pass after a redraw is one more)
    generations: int
    population: int
    lifetimes: int  # seeds per task and candidate
    seed: int
    sigma: float = 0.5
    size: str = "full"
    checks: int = 10  # held-out checks per lifetime
    features: list | None = None  # the tabular family's state space (default TABULAR_FEATURES)


def family_for(study: Study) -> Family:
    """The study's family; the tabular one on the study's state features."""
    if study.features is not None:
        if study.family != "tabular":
            raise ValueError(f"state features are the tabular family's; the {study.family} family has none")
        return tabular_family(study.features)
    return FAMILIES[study.family]


def lifetime_scenario(study: Study, task: dict, settings: dict, lifetime: int) -> Scenario:
    seed = 1000 * (study.seed + 1) + lifetime  # meta-training seeds: never a comparison's 0-4
    overrides = {
        **task,
        **settings,
        "run.method": family_for(study).rule,
        "run.seed": seed,
        "run.iterations": study.budget,
        "run.max_evaluations": study.budget,
        "run.validate_every": max(1, study.budget // study.checks),
        "run.checkpoint_every": 0,
    }
    return Scenario().with_overrides(overrides)


def lifetime_score(out_dir: Path, summary: dict) -> float:
    """Mean held-out accuracy over the run's checks (its recorded training accuracy where the task has
    no held-out set); a run whose loss diverged scores 0."""
    if failed(summary):
        return 0.0
    with np.load(out_dir / "history.npz", allow_pickle=False) as history:
        values = history["validation_accuracy"]
        if values.size == 0:
            values = history["accuracy"]
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    return float(values.mean()) if values.size else 0.0


def rule_text(family: Family, settings: dict, fitness: float, generation: int) -> str:
    """The rule file: ``[run] method`` and the rule's sections, with the study's result as a comment."""
    lines = [
        f"# learned by synapse-sim learn-rule ({family.rule}): fitness {fitness:.4f} (mean held-out accuracy over",
        f"# the meta-training lifetimes' checks) after generation {generation + 1}; never trained on notMNIST",
        f'[run]\nmethod = "{family.rule}"',
    ]
    sections: dict[str, list[str]] = {}
    for key, value in settings.items():
        section, name = key.split(".", 1)
        sections.setdefault(section, []).append(f"{name} = {_toml_value(value)}")
    for section, keys in sections.items():
        lines += ["", f"[{section}]", *keys]
    return "\n".join(lines) + "\n"


def learn_rule(study: Study, out: Path, processes: int | None = None, log=print) -> dict:
    """Run (or continue) the study in ``out``; returns the best candidate so far."""
    import cma

    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: name a folder for the study")
    out.mkdir(parents=True, exist_ok=True)
    family = family_for(study)
    state_path, record_path = out / "strategy.pkl", out / "study.json"
    identity = {k: v for k, v in dataclasses.asdict(study).items() if k != "generations"}  # more may follow
    if record_path.is_file():
        defaults = {f.name: f.default for f in dataclasses.fields(Study) if f.default is not dataclasses.MISSING}
        recorded = {**defaults, **json.loads(record_path.read_text())["study"]}  # a key added since: its default
        recorded.pop("generations")
        if recorded != identity:
            raise ValueError(
                f"{out} holds a learn-rule study with other settings ({recorded}); write this one elsewhere (--out)"
            )
    atomic_write_json(record_path, {"study": dataclasses.asdict(study)})
    if state_path.is_file():
        try:
            es, generation, best, log_rows = pickle.loads(state_path.read_bytes())
        except Exception as exc:
            raise ValueError(
                f"{state_path} cannot be read ({type(exc).__name__}: {exc}); it was not written by learn-rule or is "
                "damaged: move it away to start the study again (the lifetimes already run are read back)"
            ) from None
    else:
        x0 = [p.coordinate() for p in family.parameters]
        options = {"popsize": study.population, "seed": np.nan, "randn": Randn(study.seed), "verbose": -9}
        es, generation, best, log_rows = cma.CMAEvolutionStrategy(x0, study.sigma, options), 0, None, []
    tasks = meta_tasks(study.size)
    while generation < study.generations:
        candidates = es.ask()
        jobs = []
        for k, x in enumerate(candidates):
            settings = family.settings(x)
            for name, task in tasks.items():
                for lifetime in range(study.lifetimes):
                    folder = out / f"gen{generation:03d}" / f"c{k:02d}" / name / f"seed{lifetime}"
                    jobs.append(Job(lifetime_scenario(study, task, settings, lifetime), folder))
        summaries = run_jobs(jobs, processes, runner=run_or_report)
        scores = [lifetime_score(job.out_dir, summary) for job, summary in zip(jobs, summaries, strict=True)]
        scores = np.array(scores).reshape(len(candidates), -1)
        fitness = scores.mean(axis=1)
        es.tell(candidates, list(-fitness))
        k = int(np.argmax(fitness))
        if best is None or fitness[k] > best["fitness"]:
            best = {"fitness": float(fitness[k]), "generation": generation, "settings": family.settings(candidates[k])}
        log_rows.append({"generation": generation, "best": float(fitness.max()), "mean": float(fitness.mean())})
        generation += 1
        atomic_write_bytes(state_path, pickle.dumps((es, generation, best, log_rows)))
        atomic_write_text(out / "rule.toml", rule_text(family, best["settings"], best["fitness"], best["generation"]))
        atomic_write_json(out / "progress.json", {"rows": log_rows, "best": best})
        log(
            f"generation {generation}/{study.generations}: fitness best {fitness.max():.4f}, mean {fitness.mean():.4f}"
            f"; best so far {best['fitness']:.4f} (generation {best['generation'] + 1})"
        )
    return best
