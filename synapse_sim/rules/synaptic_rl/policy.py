"""The shared synaptic policy: one Q table (states x {decrement, keep, increment}).

Both views call the same :meth:`Policy.act` and :meth:`Policy.update`, so the
choice rule and the learning rule exist once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...io import atomic_savez, atomic_write_json
from .features import UnknownFeatureError
from .state_space import StateSpace

N_ACTIONS = 3
DECREMENT, KEEP, INCREMENT = 0, 1, 2
POLICY_FORMAT = "synapse_sim.policy"
SHIPPED_POLICY = Path(__file__).parent / "policies" / "paper_static"


class PolicyFileError(ValueError):
    """A policy file is missing, corrupt, or made for another state space."""


class Policy:
    """Tabular, epsilon-greedy Q policy shared by every synapse.

    Args:
        state_space: the :class:`StateSpace` whose indices address the rows.
        epsilon: exploration probability (paper's epsilon).
        alpha_q: Q-learning rate (alpha_q).
        gamma: discount of future reward (gamma).
        adaptive: learn while the network trains; a static policy is frozen.
        q: initial table; zeros when omitted.
    """

    def __init__(self, state_space: StateSpace, epsilon=0.25, alpha_q=0.01, gamma=0.9, adaptive=True, q=None):
        self.state_space = state_space
        self.epsilon = float(epsilon)
        self.alpha_q = float(alpha_q)
        self.gamma = float(gamma)
        self.adaptive = bool(adaptive)
        shape = (state_space.n_states, N_ACTIONS)
        self.q = np.zeros(shape) if q is None else np.array(q, dtype=np.float64)
        if self.q.shape != shape:
            raise PolicyFileError(
                f"Q table has shape {self.q.shape}, the state space {state_space.spec()} needs {shape}"
            )
        self._refresh_greedy()

    def _refresh_greedy(self) -> None:
        self.greedy = np.argmax(self.q, axis=1).astype(np.int8)

    def act(self, states, explore, random_actions):
        """Greedy action of each state (ties: lowest index), or the random action where exploring.

        ``explore`` is true with probability epsilon (see ``simulation.step_randomness``).
        """
        return np.where(explore, random_actions, self.greedy[states]).astype(np.int8)

    def act_one(self, state, explore, random_action) -> int:
        """:meth:`act` for one synapse (the agent view): the same choice, without array overhead."""
        return int(random_action) if explore else int(self.greedy[state])

    def update(self, states, actions, next_states, reward: int) -> None:
        """Synchronous TD update from one transition per synapse (docs/DESIGN.md step 5).

        Targets ``R + gamma * max_a Q[s', a]`` come from the table before this
        step. The k synapses sharing (s, a, s') share one target T, and k
        updates ``Q <- Q + alpha_q (T - Q)`` equal ``T + (1 - alpha_q)^k (Q - T)``.
        Where one (s, a) meets several s' (features beyond actions and rewards),
        the groups apply in increasing s', so the result never depends on the
        order in which synapses are visited.
        """
        if not self.adaptive:
            return
        n = self.state_space.n_states
        states = np.asarray(states, dtype=np.int64)
        key = (states * N_ACTIONS + np.asarray(actions, dtype=np.int64)) * n + np.asarray(next_states, dtype=np.int64)
        groups, counts = np.unique(key, return_counts=True)
        cell, next_state = np.divmod(groups, n)
        target = reward + self.gamma * self.q.max(axis=1)[next_state]
        decay = (1.0 - self.alpha_q) ** counts
        first = np.r_[True, cell[1:] != cell[:-1]]
        rank = np.arange(cell.size) - np.maximum.accumulate(np.where(first, np.arange(cell.size), 0))
        flat = self.q.reshape(-1)
        for r in range(int(rank.max()) + 1 if rank.size else 0):
            sel = rank == r
            c = cell[sel]
            flat[c] = target[sel] + decay[sel] * (flat[c] - target[sel])
        self._refresh_greedy()

    def greedy_rule(self) -> np.ndarray:
        return self.greedy.copy()

    def metadata(self, **extra) -> dict:
        from ...plugins import origin

        plugins = sorted({o for o in map(origin, self.state_space.features) if o is not None})
        return {
            "format": POLICY_FORMAT,
            "version": 1,
            "state_space": self.state_space.spec(),
            "n_states": self.state_space.n_states,
            "actions": ["decrement", "keep", "increment"],
            "epsilon": self.epsilon,
            "alpha_q": self.alpha_q,
            "gamma": self.gamma,
            **({"plugins": plugins} if plugins else {}),
            **extra,
        }

    def save(self, path, **extra) -> tuple[Path, Path]:
        """Write ``path.npz`` (the table) and ``path.json`` (its metadata), atomically, no pickle."""
        base = _policy_base(path)
        atomic_savez(base.with_suffix(".npz"), q=self.q)
        atomic_write_json(base.with_suffix(".json"), self.metadata(**extra))
        return base.with_suffix(".npz"), base.with_suffix(".json")

    @classmethod
    def load(cls, path, state_space: StateSpace | None = None, **kwargs) -> Policy:
        """Read a saved policy; with ``state_space`` given, its spec must match the file's."""
        q, meta = read_policy_file(path)
        file_space = StateSpace.from_spec(meta["state_space"])
        if state_space is not None and state_space != file_space:
            raise PolicyFileError(
                f"policy file {_policy_base(path)} was learned on state space {file_space.spec()} "
                f"({file_space.n_states} states), but the scenario uses {state_space.spec()} "
                f"({state_space.n_states} states); learn a policy for this state space "
                "(policy.mode = 'adaptive') or change [state] to match the file"
            )
        return cls(file_space, q=q, **kwargs)


def _policy_base(path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".npz", ".json") else path


def shipped_policy_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED_POLICY.parent.glob("*.json"))


def user_policy_names() -> list[str]:
    from ...locations import user_policy_folder

    return sorted(p.stem for p in user_policy_folder().glob("*.json"))


def _named(name: str, folder: Path, names: list[str], what: str) -> Path:
    if name not in names:
        raise PolicyFileError(f"no {what} {name!r} in {folder} (it holds {names or 'none'}); {NAMED_HELP}")
    return folder / name


NAMED_HELP = (
    "use 'shipped' for paper_static, 'shipped:NAME' for another shipped policy, 'user:NAME' for one that "
    "`synapse-sim learn-policy --install NAME` put in the user folder, or a path"
)


def resolve_policy_path(value) -> Path:
    """``"shipped"`` names the paper-state policy included with the package, ``"shipped:NAME"``
    another one, ``"user:NAME"`` one that ``learn-policy --install NAME`` put in the user folder."""
    from ...locations import user_policy_folder

    value = str(value)
    if value == "shipped":
        return SHIPPED_POLICY
    if value.startswith("user:"):
        return _named(value.removeprefix("user:"), user_policy_folder(), user_policy_names(), "user policy")
    if value.startswith("shipped:"):
        return _named(value.removeprefix("shipped:"), SHIPPED_POLICY.parent, shipped_policy_names(), "shipped policy")
    return _policy_base(os.path.expanduser(value))


def read_policy_file(path) -> tuple[np.ndarray, dict]:
    base = _policy_base(path)
    npz_path, json_path = base.with_suffix(".npz"), base.with_suffix(".json")
    for p in (npz_path, json_path):
        if not p.is_file():
            raise PolicyFileError(
                f"policy file {p} not found; a policy is a pair NAME.npz + NAME.json "
                "written by `synapse-sim run` (results folder, policy.*) or Policy.save"
            )
    try:
        meta = json.loads(json_path.read_text())
        if not isinstance(meta, dict) or meta.get("format") != POLICY_FORMAT:
            raise ValueError(f"'format' is not {POLICY_FORMAT!r}")
        StateSpace.from_spec(meta["state_space"])
    except UnknownFeatureError as exc:
        known = meta.get("plugins") if isinstance(meta, dict) else None
        where = (
            f"it was learned with the plug-in(s) {', '.join(map(str, known))}: list them in the scenario "
            f"(plugins = {json.dumps(known)})"
            if known
            else str(exc)
        )
        raise PolicyFileError(
            f"policy {json_path} was learned with the state feature {exc.name!r}, which no code in this process "
            f"registered (the file itself is readable); {where}"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise PolicyFileError(f"policy metadata {json_path} is corrupt or not a synapse_sim policy: {exc}") from None
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            q = np.array(data["q"], dtype=np.float64)
    except Exception as exc:  # zipfile / format errors come in many types
        raise PolicyFileError(f"policy table {npz_path} is corrupt or unreadable: {exc}") from None
    if q.ndim != 2 or q.shape != (meta.get("n_states"), N_ACTIONS):
        raise PolicyFileError(
            f"policy table {npz_path} has shape {q.shape}, its metadata says ({meta.get('n_states')}, {N_ACTIONS})"
        )
    if not np.all(np.isfinite(q)):
        raise PolicyFileError(f"policy table {npz_path} contains NaN or infinite values")
    return q, meta
