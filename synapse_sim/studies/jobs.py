"""Many runs at once: seeds in parallel processes, each checkpointed and resumable.

A job whose folder already holds a completed run is read back, an interrupted one
is resumed, so an interrupted study continues where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..scenario import Scenario


class StudyInterrupted(KeyboardInterrupt):
    """A run of the study was interrupted (Ctrl-C, SIGTERM): the study stops there, as a single run
    does, instead of going on to the next job; run the same command again to resume."""


@dataclass
class Job:
    scenario: Scenario
    out_dir: Path
    label: str = ""


def run_job(job: Job) -> dict:
    """Run, resume or read back one job; a run stopped by the early-stop rule stays stopped.

    A folder holding a run of another scenario, data or starting policy is an error, not a
    result; so is a completed run longer than the job (a run is never cut short, and its
    averaged policy covers other steps) and an averaged policy whose label misstates its window.
    """
    from ..folder import RunError, folder_state
    from ..runner import check_same_run, run

    check_same_run(job.out_dir, job.scenario)
    summary_path = job.out_dir / "summary.json"
    gradient = job.scenario["run"]["method"] == "gradient_descent"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        if stopped_early(summary):
            return summary
        if summary["status"] == "completed":
            iterations = job.scenario["run"]["iterations"]
            if not gradient and summary["steps"] > iterations:
                raise RunError(
                    f"results folder {job.out_dir} holds a completed run of {summary['steps']} steps, longer than the "
                    f"{iterations} this study asks for; a run is never cut short (and its averaged policy covers "
                    "other steps): write the study elsewhere (--out), or move the folder"
                )
            check_averaged_window(job.out_dir)
            if finished(summary, job.scenario):
                return summary
    resume = not gradient and folder_state(job.out_dir).holds_run
    summary = run(job.scenario, job.out_dir, resume=resume, progress=False)
    if summary["status"].startswith("interrupted"):
        raise StudyInterrupted(
            f"{summary['status']} during {job.out_dir} (its checkpoint is kept); run the same command again to resume"
        )
    return summary


def check_averaged_window(out_dir: Path) -> None:
    """Refuse an averaged policy that holds another number of tables than its label states (older
    versions extended a run without restarting the sum: the label said 401..800, the table 201..800)."""
    import re

    from ..folder import RunError

    meta_path, checkpoint = out_dir / "policy.json", out_dir / "checkpoint.npz"
    if not meta_path.is_file() or not checkpoint.is_file():
        return
    meta = json.loads(meta_path.read_text())
    found = re.fullmatch(r"mean of the Q table over steps (\d+)\.\.(\d+)", str(meta.get("table", "")))
    if found is None:
        return
    first, last = map(int, found.groups())
    try:
        with np.load(checkpoint, allow_pickle=False) as data:
            count = int(data["engine_q_count"])
    except Exception:  # a checkpoint that cannot say leaves the label as it is
        return
    if count != last - first + 1:
        raise RunError(
            f"{meta_path} labels its table the mean over steps {first}..{last}, but it averages {count} tables "
            "(written by an older synapse_sim that extended the run without restarting the average); rerun it "
            "into a new folder (--out) before screening or installing it"
        )


def finished(summary: dict, scenario: Scenario) -> bool:
    """A completed run reached the scenario's iterations or its evaluation budget."""
    if summary.get("method") == "gradient_descent":
        return True
    budget = scenario["run"]["max_evaluations"]
    if summary.get("stopped_by"):  # the held-out accuracy was stable: the run's own end
        return True
    return summary["steps"] >= scenario["run"]["iterations"] or bool(budget and summary.get("evaluations", 0) >= budget)


def default_processes() -> int:
    return max(1, os.cpu_count() or 1)


def run_or_report(job: Job) -> dict:
    """:func:`run_job`, except that a run stopped by a non-finite loss is a table entry (its
    ``summary.json`` says ``failed: ...``), not the end of the study: with rates not tuned per
    seed, a rate that diverges on some seed is a result."""
    from ..folder import RunError

    path = job.out_dir / "summary.json"
    if path.is_file() and json.loads(path.read_text())["status"].startswith("failed"):
        return json.loads(path.read_text())
    try:
        return run_job(job)
    except RunError:
        if path.is_file() and json.loads(path.read_text())["status"].startswith("failed"):
            return json.loads(path.read_text())
        raise


def failed(summary: dict) -> bool:
    return summary["status"].startswith("failed")


def run_jobs(
    jobs: list[Job], processes: int | None = None, runner=run_job, lockstep: int = 1, group_by=None
) -> list[dict]:
    """Run jobs in parallel worker processes (one BLAS thread each); results in job order.

    ``runner`` runs one job (a module-level function, so that workers can import it).
    ``lockstep`` K > 1: jobs with the same ``group_by(job)`` go in groups of up to K that one worker
    runs in lockstep (:func:`run_group`): the same results, sooner where their work batches
    (control episodes; evaluations on a task they share, with ``group_by=same_task``).

    The runs go to Dask (:mod:`.cluster`): a ``LocalCluster`` of ``processes`` single-threaded
    worker processes, or the scheduler named by ``--scheduler`` / ``$SYNAPSE_SIM_SCHEDULER``;
    with one process and no scheduler they run here, one after the other. Each worker imports
    the plug-ins this process loaded and registers the features, rules and tasks defined in
    ``__main__`` (a notebook cell), so a study runs what the caller sees. A task whose worker
    is lost runs again on another and resumes its run from the last checkpoint.
    """
    from .cluster import scheduler_address

    index_groups = lockstep_groups(jobs, lockstep, group_by)
    groups = [[jobs[i] for i in indices] for indices in index_groups]
    group_runner = functools.partial(run_group, runner)
    address = scheduler_address()
    processes = min(processes or default_processes(), len(groups))
    if processes <= 1 and not address:
        return _in_job_order(index_groups, [group_runner(group) for group in groups])
    from ..plugins import snapshot
    from .cluster import client_for, stop_all, submit_all

    groups = [[dataclasses.replace(job, out_dir=Path(job.out_dir).resolve()) for job in group] for group in groups]
    try:
        with _main_module_not_rerun(), _sigterm_interrupts(), client_for(address, processes) as client:
            futures, stop_name = submit_all(client, _dask_task, groups, (group_runner, snapshot()))
            try:
                return _in_job_order(index_groups, [_outcome(future) for future in futures])
            except BaseException:
                stop_all(client, futures, stop_name)
                raise
    except KeyboardInterrupt as exc:
        if isinstance(exc, StudyInterrupted):
            raise
        raise StudyInterrupted(f"the study was interrupted; {_RESUME}") from None
    except Exception as exc:
        from distributed import KilledWorker

        from ..folder import RunError

        if not isinstance(exc, KilledWorker):
            raise
        raise RunError(
            f"a run's task was lost with {exc.last_worker.address if exc.last_worker else 'its worker'} on every "
            "try; the runs that completed are kept in their folders and the study resumes the others when started "
            "again (--processes 1 runs them here, one at a time)"
        ) from None


def _in_job_order(index_groups, per_group) -> list[dict]:
    summaries: dict[int, dict] = {}
    for indices, results in zip(index_groups, per_group, strict=True):
        summaries.update(zip(indices, results, strict=True))
    return [summaries[i] for i in range(len(summaries))]


def _dask_task(jobs: list[Job], payload, stop_name: str) -> tuple[str, object]:
    """A Dask task: the group's runs (one BLAS thread, the study's plug-ins), stopping when the study
    does; ("done", summaries) or ("interrupted", why): an interruption is not raised in the worker
    (a ``KeyboardInterrupt`` there would end the worker, not the study)."""
    from ..interrupts import stop_source
    from ..plugins import restore
    from .cluster import stop_requested

    runner, plugins = payload
    _single_thread()
    restore(plugins)
    stopped = stop_requested(stop_name)
    if stopped():
        return "interrupted", f"{jobs[0].out_dir} not started: the study was interrupted"
    try:
        with stop_source(stopped):
            return "done", runner(jobs)
    except KeyboardInterrupt as exc:
        return "interrupted", str(exc)


def _outcome(future) -> list[dict]:
    kind, value = future.result()
    if kind == "interrupted":
        raise StudyInterrupted(value)
    return value


def lockstep_groups(jobs: list[Job], size: int, group_by=None) -> list[list[int]]:
    """The jobs' indices in groups of at most ``size`` that share ``group_by(job)`` (keys in the order
    first seen, jobs in their order within a key)."""
    by_key: dict = {}
    for index, job in enumerate(jobs):
        by_key.setdefault(None if group_by is None else group_by(job), []).append(index)
    size = max(1, size)
    return [indices[i : i + size] for indices in by_key.values() for i in range(0, len(indices), size)]


def run_in_populations(jobs: list[Job], processes: int | None = None, runner=run_job) -> list[dict]:
    """:func:`run_jobs` with the jobs that share a task instance (:func:`same_task`) run as lockstep
    populations, in groups that keep every worker busy: the same results, sooner where the
    members' evaluations batch (a study's rule sweeps, state spaces or candidates on one seed)."""
    size = -(-len(jobs) // min(processes or default_processes(), max(1, len(jobs))))
    return run_jobs(jobs, processes, runner, lockstep=size, group_by=same_task)


def same_task(job: Job):
    """A job's task as runs in lockstep would share it (:func:`synapse_sim.tasks.build_task`), or its
    folder where the task cannot be shared: a ``group_by`` for :func:`run_jobs`."""
    from ..tasks import task_builder, task_identity

    shares = getattr(task_builder(job.scenario["task"]["name"]), "shares", None)
    return str(job.out_dir) if shares is None else task_identity(job.scenario, shares)


def run_group(runner, jobs: list[Job]) -> list[dict]:
    """``runner`` on each job, the jobs in lockstep (:func:`synapse_sim.lockstep.together`) when
    there are several: their control episodes step together, each run keeps its own folder,
    checkpoints and results, equal bit for bit to a run alone. An interruption or error of any
    run is raised once every run of the group has ended (each with its checkpoint)."""
    if len(jobs) == 1:
        return [runner(jobs[0])]
    from ..lockstep import together

    outcomes = together([functools.partial(runner, job) for job in jobs])
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        raise next((e for e in errors if isinstance(e, KeyboardInterrupt)), errors[0])
    return outcomes


_RESUME = (
    "the running jobs saved their checkpoints and the queued ones did not start: run the same command again to resume"
)


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM to the study's own process stops it as Ctrl-C does (outside the main thread, as is)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum, _frame):
        raise StudyInterrupted(f"the study received SIGTERM; {_RESUME}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _main_module_not_rerun():
    """Spawned workers would re-run the main script (or fail on ``<stdin>``); they need none of it:
    what ``__main__`` registered reaches them by value (:func:`synapse_sim.plugins.snapshot`)."""
    main = sys.modules["__main__"]
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _single_thread() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass


def stats(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "stdev": float(values.std(ddof=1)) if values.size > 1 else 0.0,
    }


def stopped_early(summary: dict) -> bool:
    from ..runner import STOPPED_EARLY

    return summary["status"].startswith(STOPPED_EARLY)


def write_rows(out_root, stem: str, rows: list[dict], text: str) -> None:
    """A study's table as ``STEM.md`` (``text``), ``STEM.csv`` and ``STEM.json`` (``rows``) in ``out_root``."""
    import csv
    import io

    out_root = Path(out_root)
    (out_root / f"{stem}.md").write_text(text)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    (out_root / f"{stem}.csv").write_text(buffer.getvalue())
    (out_root / f"{stem}.json").write_text(json.dumps(rows, indent=1))
