"""The agent view as the dashboard drives it: one keyword argument per control, a run folder, fast-forward.

Reset rebuilds the model as ``type(model)(**params)`` from the controls, so
:class:`DashboardModel` takes the controls themselves (see :mod:`.controls`: task, hidden
layers, learning rule, each rule's parameters, seed) on top of a base scenario. A control
value that cannot be used does not crash the page: the model falls back to a working value
and lists the problem in ``problems``, which the dashboard shows.

Opened from a results folder (``run_folder``), the model continues that run: the folder's
scenario is the base, its checkpoint is loaded into the agents and its recorded history
becomes the first part of the curves. :meth:`DashboardModel.fast_forward` runs steps in the
vectorised backend and loads the result back into the agents; both views compute the same
step bit for bit, so the agents continue exactly where the vectorised run stopped.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

import mesa
import numpy as np

from ..engine.vector import VectorEngine
from ..model import SynapseModel
from ..runner import RESUMABLE_CHANGES, changed_keys
from .controls import (
    POLICY_CHOICES,
    TASKS,
    base_for_task,
    default_rule,
    parse_hidden,
    policy_choice,
    resolve,
    rule_controls,
    with_rule,
)
from .episode import LastEpisode, capture_episode, runs_episodes
from .params import initial_kwargs, model_params
from .recorded import AGENTS, FAST_FORWARD, SERIES, Recorded
from .run_folder import RunFolder, RunFolderError, open_run_folder, state_digest, weights_digest

__all__ = [
    "POLICY_CHOICES",
    "TASKS",
    "DashboardModel",
    "base_for_task",
    "default_rule",
    "initial_kwargs",
    "model_params",
    "parse_hidden",
    "policy_choice",
    "resolve",
    "rule_controls",
    "wait_for_page",
    "with_rule",
]


def wait_for_page(render_context, timeout: float = 2.0) -> None:
    """Block while another thread renders the page (at most ``timeout`` seconds).

    Mesa's play thread steps every ``play_interval`` and then asks for a redraw; while a click
    re-renders the page in its own thread, that request only marks the page dirty and the play
    thread steps on. When a render pass takes longer than a play interval (a busy machine),
    each pass finds new state, and after 100 passes reacton gives up ("Too many renders
    triggered"), blanking the page. Waiting here makes the play thread step only between
    renders. ``render_context`` is reacton's render context (its ``_is_rendering`` and
    ``_lock_thread``, private in reacton 1.x, are read defensively); ``None`` waits for nothing.
    """
    if render_context is None:
        return
    deadline = time.monotonic() + timeout
    while (
        getattr(render_context, "_is_rendering", False)
        and getattr(render_context, "_lock_thread", None) is not threading.current_thread()
        and time.monotonic() < deadline
    ):
        time.sleep(0.002)


def episode_return(model) -> float:
    """The DataCollector's ``return``: the last step's episode return (a control task's record), else NaN."""
    result = model.last_result
    return float(result.records.get("return", np.nan)) if result is not None else np.nan


class DashboardModel(SynapseModel):
    """:class:`SynapseModel` built from dashboard controls (all keyword arguments, as SolaraViz needs).

    Args:
        task_name: ``"decision_boundary"`` or ``"notmnist"``.
        hidden: hidden layer sizes, ``"100"`` or ``"32, 16"``; the input / output sizes follow the task.
        epsilon, alpha_s, alpha_q, gamma: the paper's parameters (numbers or numeric strings).
        policy: one of :data:`POLICY_CHOICES`; ``policy_file`` names NAME(.npz/.json) for the file choices.
        seed: ``run.seed`` (int or a typed string).
        rule: the learning rule (``run.method``), a registered rule; default: the base scenario's.
            Only the chosen rule's controls apply: epsilon ... policy_file for ``synaptic_rl``,
            the :func:`~.controls.rule_controls` (``spsa_a=...``, ``np_sigma=...``) for the others.
        base_scenario: everything the controls do not set (default: the decision-boundary defaults).
        task: a task object to use when it fits the chosen task (e.g. a ClassificationTask for notMNIST).
        run_folder: a results folder to continue: its scenario is the base, and when the controls
            leave it unchanged the model starts at the folder's checkpoint with the run's history.
        scenario: Mesa's experiment scenario, which Reset passes to a model taking keyword arguments;
            unused (the scenario in force is ``config``, built from the controls).
        **rule_values: the other rules' controls (``spsa_a=0.01``, ``np_sigma=0.02``, ...).

    ``problems`` lists the control values that could not be used and what was used instead.
    ``weight_log`` keeps (step, weight vector) after each of the last ``raster_length`` steps:
    the inspector's weight trace, for any rule. ``recorded`` holds the curves' steps before the
    DataCollector's first row (the run's history, fast-forwards, agent steps before them).
    On a control task ``episode`` is the last step's episode (:class:`~.episode.LastEpisode`: record,
    trace, replay for its frames) and the curves collect each episode's ``return`` too.
    """

    def __init__(
        self,
        task_name: str | None = None,
        hidden: str | None = None,
        epsilon: float | None = None,
        alpha_s: float | None = None,
        alpha_q: float | None = None,
        gamma: float | None = None,
        policy: str | None = None,
        policy_file: str | None = None,
        features: str | None = None,
        seed: int | str | None = None,
        rule: str | None = None,
        base_scenario=None,
        task=None,
        raster_length: int = 200,
        run_folder=None,
        rng=None,
        activation: str = "shuffle",
        scenario=None,
        **rule_values,
    ):
        del scenario  # Mesa's; ours is built from the controls
        folder, notes = None, []
        if run_folder:
            try:
                folder = open_run_folder(run_folder)
            except RunFolderError as exc:
                notes.append(f"{exc}; showing a new run instead")
            else:
                base_scenario = folder.scenario
        scenario, task_object, problems = resolve(
            base_scenario,
            task,
            task_name=task_name,
            hidden=hidden,
            epsilon=epsilon,
            alpha_s=alpha_s,
            alpha_q=alpha_q,
            gamma=gamma,
            policy=policy,
            policy_file=policy_file,
            features=features,
            seed=seed,
            rule=rule,
            **rule_values,
        )
        super().__init__(
            scenario,
            rng=scenario["run"]["seed"] if rng is None else rng,
            activation=activation,
            raster_length=raster_length,
            task=task_object,
        )
        self.problems = notes + problems
        self.episode: LastEpisode | None = None
        self._collect_returns()
        self.weight_log: deque = deque(maxlen=raster_length)
        self.lock = threading.RLock()
        self.fast_forwarding = False
        self.recorded = Recorded()
        self.run_folder = None  # the results folder this model continues (a Path), if any
        self.opened_at: int | None = None  # the step of that folder's checkpoint
        self.fast_forwards: list[tuple[int, int]] = []  # (from step, to step) of each fast-forward
        self._digests: tuple = (None, "", "")
        if folder is not None:
            self.continue_run(folder)

    render_context = None
    """The page's reacton render context, set by the views as they render (see :func:`wait_for_page`)."""

    # --- a results folder ---------------------------------------------------------------------------------------
    def continue_run(self, folder: RunFolder) -> bool:
        """Load the folder's checkpoint and history, unless the controls changed the run's scenario."""
        changed = sorted(changed_keys(folder.scenario, self.config) - RESUMABLE_CHANGES)
        if changed:
            self.problems.append(
                f"the controls differ from the run in {folder.path} ({', '.join(changed)}): this is a new run from "
                "step 0, not the run's checkpoint; set them back and press Reset to continue the run"
            )
            return False
        if folder.step > 0:
            self.restore(folder.state)
        self.steps = self.simulation.step_count
        self._clear_collected()
        self.recorded = Recorded.from_history(folder.history)
        self.run_folder, self.opened_at = folder.path, folder.step
        self.iterations = math.inf  # a continued run goes on past run.iterations
        self.running = True
        return True

    def _collect_returns(self) -> None:
        """The DataCollector with an episode's ``return`` too (NaN before a step and on tasks without episodes)."""
        reporters = {**self.datacollector.model_reporters, "return": episode_return}
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.datacollector.collect(self)

    def _clear_collected(self) -> None:
        for values in self.datacollector.model_vars.values():
            values.clear()

    def _move_collected(self) -> None:
        """The DataCollector's rows (agent steps since the last fast-forward) into ``recorded``."""
        series = self.datacollector.model_vars
        n = min(len(series[name]) for name in SERIES)
        if n:  # the agents' step count (Mesa has counted a step that calls this one already)
            last = self.simulation.step_count
            steps = np.arange(last - n + 1, last + 1)
            self.recorded.append(steps, {name: series[name][:n] for name in SERIES}, AGENTS)
        self._clear_collected()

    # --- stepping -----------------------------------------------------------------------------------------------
    vectorised_steps = 0
    """Steps each :meth:`step` runs in the vectorised backend instead of one agent step (the page's render
    interval, when it plays in the vectorised backend): the same steps, bit for bit (:meth:`fast_forward`)."""

    def step(self) -> None:
        wait_for_page(self.render_context)
        if self.fast_forwarding:  # a Step click or the play thread during a fast-forward: nothing to do
            self.steps = self.simulation.step_count
            return
        if self.vectorised_steps > 0:
            self.fast_forward(self.vectorised_steps)
            return
        with self.lock:
            super().step()
            self.steps = self.simulation.step_count
            self.weight_log.append((int(self.steps), self.weight_vector()))
            if runs_episodes(self):
                self.episode = capture_episode(self.simulation, self.weight_vector(), self.broadcast)

    def restore(self, state) -> None:
        self._engine = None
        super().restore(state)

    def fast_forward(self, n_steps: int, progress=None, stop=None) -> int:
        """Run ``n_steps`` in the vectorised backend from this state, then load the result into the agents.

        The vectorised engine is built from the same scenario and task, restored from this model's
        checkpoint, stepped, and its checkpoint restored into the agents: the agents then hold the
        state the vectorised run reached (bit for bit), and the next agent step is the one it would
        take. ``progress(done, total)`` is called after each step; ``stop()`` returning true ends the
        fast-forward early (at the step reached). Returns the number of steps run.
        """
        n_steps = int(n_steps)
        if n_steps < 1:
            return 0
        with self.lock:
            self.fast_forwarding = True
            try:
                return self._fast_forward(n_steps, progress, stop)
            finally:
                self.fast_forwarding = False

    def _fast_forward(self, n_steps: int, progress, stop) -> int:
        engine = self._vector_engine()
        start = self.simulation.step_count
        n = self.topology.n_synapses
        steps = np.zeros(n_steps, dtype=np.int64)
        series = {name: np.zeros(n_steps) for name in SERIES}
        tail: deque = deque(maxlen=self.action_log.maxlen)
        validate_every = self.config["run"]["validate_every"]
        validation = []
        done = 0
        while done < n_steps and not (stop is not None and stop()):
            result = engine.step()
            steps[done] = result.step
            series["loss"][done], series["accuracy"][done] = result.loss, result.accuracy
            series["reward"][done] = result.reward
            mix = result.action_counts / n
            series["decrement"][done], series["keep"][done], series["increment"][done] = mix
            series["return"][done] = result.records.get("return", np.nan)
            weights = engine.population.weights
            tail.append((engine.population.actions().copy(), result.reward, (result.step, weights.copy())))
            if validate_every and result.step % validate_every == 0:
                validation.append((result.step, self.task.validate(engine.weight_matrices())))
            done += 1
            if progress is not None:
                progress(done, n_steps)
        if not done:
            return 0
        self._move_collected()
        self.recorded.append(steps[:done], {k: v[:done] for k, v in series.items()}, FAST_FORWARD)
        for step, metrics in validation:
            self.recorded.add_validation(step, metrics)
        if runs_episodes(self):  # the broadcast of the vectorised step is not kept
            self.episode = capture_episode(engine.simulation, engine.population.weights)
        self.adopt(engine)
        self._engine = engine
        self.steps = self.simulation.step_count
        for actions, reward, weights in tail:
            self.action_log.append(actions)
            self.reward_log.append(reward)
            self.weight_log.append(weights)
        self.fast_forwards.append((start, self.steps))
        self.running = self.simulation.step_count < self.iterations
        return done

    _engine: VectorEngine | None = None

    def _vector_engine(self) -> VectorEngine:
        """The engine of the last fast-forward while the agents still hold its state (no agent step, no
        restore since), else a new one from the agents' checkpoint."""
        engine = self._engine
        if engine is not None and engine.step_count == self.simulation.step_count:
            return engine
        engine = VectorEngine(self.config, task=self.task)
        if self.simulation.step_count > 0:  # at step 0 it holds this state already (restoring counts L_0 twice)
            engine.restore(self.checkpoint())
        return engine

    # --- what the run panel shows -------------------------------------------------------------------------------
    def digests(self) -> tuple[str, str]:
        """(SHA-256 of the weights, SHA-256 of the whole state) now; the last ones while a step is running."""
        key = (self.simulation.step_count, len(self.fast_forwards), self.run_folder)
        if self._digests[0] != key and self.lock.acquire(blocking=False):
            try:
                if not self.fast_forwarding:
                    self._digests = (key, weights_digest(self.weight_vector()), state_digest(self.checkpoint()))
            finally:
                self.lock.release()
        return self._digests[1], self._digests[2]
