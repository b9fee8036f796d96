"""What a run was made of, and whether a resume may continue it.

The data it trained on (source, size, content hash, split), the scenario as written, the
policy file it started from, the BLAS thread count, and the checks a resume must pass:
the provenance half of a results folder (:mod:`synapse_sim.folder` holds the lock, the
manifest and the write guard).
"""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path

import numpy as np

from .folder import (
    CHECKPOINT,
    SCENARIO,
    TOML_INT_LIMIT,
    Manifest,
    ResultsFolder,
    RunError,
    arrays_sha256,
    file_sha256,
    folder_state,
    note,
)


def check_toml_integers(scenario) -> None:
    """TOML integers are 64-bit: a larger one (``--seed 2**70``) could not be written back faithfully."""
    for section, values in scenario.data.items():
        for key, value in values.items():
            for item in _leaves(value):
                if isinstance(item, int) and not isinstance(item, bool) and abs(item) >= TOML_INT_LIMIT:
                    raise RunError(
                        f"scenario key '{section}.{key}' = {item} is too large: scenario files hold 64-bit integers "
                        f"(below 2**63 = {TOML_INT_LIMIT}); a seed that large could not be recorded or resumed"
                    )


def _leaves(value):
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    else:
        yield value


_DATA_HASHES: dict[int, tuple[object, str]] = {}


def data_fingerprint(scenario) -> dict | None:
    """The external data set a scenario names (notMNIST): source, size, content hash, skipped files."""
    if scenario["task"]["name"] != "notmnist":
        return None
    from .tasks.notmnist import _dataset  # the task's own (cached) load of task.data

    dataset = _dataset(scenario["task"]["data"])
    cached = _DATA_HASHES.get(id(dataset))
    if cached is None or cached[0] is not dataset:
        cached = (dataset, arrays_sha256(dataset.images, dataset.labels))
        _DATA_HASHES[id(dataset)] = cached
    return {
        "source": dataset.source,
        "images": len(dataset),
        "pixels": int(dataset.images.shape[1]),
        "sha256": cached[1],
        "skipped": int(dataset.skipped),
        "skipped_files": list(dataset.skipped_files[:100]),
    }


def trained_on(task) -> dict:
    """The arrays the task trains and validates on (after the split), hashed, and its effective batch size."""
    names = [n for n in ("x_train", "y_train", "x_val", "y_val", "x", "y") if hasattr(task, n)]
    record = {
        "task": getattr(task, "name", type(task).__name__),
        "sha256": arrays_sha256(*(getattr(task, n) for n in names)),
    }
    if hasattr(task, "y_train"):
        record["train"] = int(np.asarray(task.y_train).size)
        record["validation"] = int(np.asarray(task.y_val).size)
    elif hasattr(task, "y"):
        record["points"] = int(np.asarray(task.y).size)
    if hasattr(task, "batch_size"):
        record["batch_size"] = int(task.batch_size)
    return record


def data_differences(old: dict | None, new: dict | None) -> list[str]:
    """How the data a run trained on differs from the data named now (empty when the same)."""
    if not old or not new:
        return []
    if old.get("sha256") == new.get("sha256") and old.get("images") == new.get("images"):
        return []
    out = [f"the run trained on {old.get('images')} images from {old.get('source')} (sha256 {old['sha256'][:12]}…)"]
    out.append(
        f"task.data now gives {new.get('images')} images from {new.get('source')} (sha256 {new['sha256'][:12]}…)"
    )
    if old.get("images") != new.get("images"):
        out.append(f"{abs(new['images'] - old['images'])} {'more' if new['images'] > old['images'] else 'fewer'}")
    if old.get("skipped") != new.get("skipped"):
        out.append(f"{new.get('skipped')} unreadable files skipped now, {old.get('skipped')} then")
    return out


def policy_input(path) -> dict | None:
    """The policy file a run starts from: where it is and the hashes of its two files."""
    if path is None:
        return None
    base = Path(path)
    return {
        "path": str(base),
        "npz_sha256": file_sha256(base.with_suffix(".npz")),
        "json_sha256": file_sha256(base.with_suffix(".json")),
    }


def scenario_differences(written: str, current_path: Path) -> list[str]:
    """Keys whose values differ between the scenario a run wrote and the file as it is now."""
    from .scenario import Scenario, ScenarioError

    try:
        then = Scenario(tomllib.loads(written))
        now = Scenario(tomllib.loads(current_path.read_text()))
    except (tomllib.TOMLDecodeError, ScenarioError, UnicodeDecodeError, OSError) as exc:
        return [f"it no longer reads as a scenario ({exc})"]
    return [
        f"{s}.{k}: {then.data[s][k]!r} when the run wrote it, {now.data[s][k]!r} now"
        for s in then.data
        for k in then.data[s]
        if then.data[s][k] != now.data[s][k]
    ] or ["only formatting or comments"]


# --------------------------------------------------------------------------------------- threads
def current_blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [int(info["num_threads"]) for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None


SIMD_LEVELS = ("SVE", "ASIMD", "X86_V4", "X86_V3", "X86_V2")  # widest first, per architecture


def compute_platform() -> dict:
    """What a float result depends on besides the code and the seed: the BLAS kernel and thread count
    and the widest SIMD level NumPy dispatches to. Runs repeat bit for bit on one platform; across
    platforms sums are split and vectorised otherwise and round differently (about 1e-16 relative)."""
    import platform

    try:  # NumPy's own record of what it dispatches to
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__

    blas = {}
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_info

        blas = next((info for info in threadpool_info() if info.get("user_api") == "blas"), {})
    return {
        "machine": platform.machine(),
        "blas": f"{blas.get('internal_api', 'unknown')} {blas.get('version') or ''}".strip(),
        "blas_kernel": str(blas.get("architecture") or "unknown"),
        "blas_threads": blas.get("num_threads"),
        "simd": next((level for level in SIMD_LEVELS if __cpu_features__.get(level)), "baseline"),
    }


def platform_key(platform: dict | None = None) -> str:
    """A short name for :func:`compute_platform`, e.g. ``x86_64-haswell-x86_v3-2t``."""
    p = platform or compute_platform()
    return f"{p['machine']}-{p['blas_kernel']}-{p['simd']}-{p['blas_threads']}t".lower()


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Run with ``n`` BLAS threads (a sum split over another number of threads rounds differently)."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n), user_api="blas"):
        yield


# ------------------------------------------------------------------------ the run and its folder
# keys that may differ on resume; task.data only to name the same data elsewhere (its content hash must
# match) and policy.average_from only where the averaged table stays exact (the rule's resume_conflict)
RESUMABLE_CHANGES = {
    "run.max_evaluations",
    "policy.average_from",
    "run.iterations",
    "run.checkpoint_every",
    "run.engine",
    "run.validate_every",
    "task.data",
}


def changed_keys(saved, new) -> set[str]:
    """The ``section.key`` names whose values differ between two scenarios (a key only one of them
    knows, as between synapse_sim versions, differs)."""
    missing = object()
    sections = set(saved.data) | set(new.data)
    return {
        f"{s}.{k}"
        for s in sections
        for k in set(saved.data.get(s, {})) | set(new.data.get(s, {}))
        if saved.data.get(s, {}).get(k, missing) != new.data.get(s, {}).get(k, missing)
    }


def folder_scenario(out_dir, manifest: Manifest | None):
    """The scenario the folder's run wrote; a ``scenario.toml`` edited since is refused, naming the change."""
    from .scenario import Scenario

    saved = Path(out_dir) / SCENARIO
    written = manifest.data.get("scenario") if manifest is not None else None
    if written is not None and not saved.exists():  # stopped between the manifest and the scenario file
        return Scenario(tomllib.loads(written), source=str(saved))
    if not saved.is_file():
        raise RunError(f"{out_dir} is not a results folder (no {SCENARIO}): there is no run to resume or read back")
    if written is not None and not manifest.owns(SCENARIO):
        changes = "; ".join(scenario_differences(manifest.data["scenario"], saved))
        raise RunError(
            f"{saved} was edited after the run wrote it ({changes}); a run continues (or is read back) only with "
            "the scenario it started with: undo the edit, or start a new run from the edited file "
            f"(synapse-sim run {saved} --out NEW_FOLDER)"
        )
    return Scenario.load(saved)


def check_same_run(out_dir, scenario) -> None:
    """Refuse to read back or resume a folder that holds a run of another scenario, data or policy file."""
    out_dir = Path(out_dir)
    if not (out_dir / SCENARIO).is_file():
        return
    manifest = Manifest.read(out_dir)
    changed = changed_keys(folder_scenario(out_dir, manifest), scenario) - RESUMABLE_CHANGES
    if changed:
        raise RunError(
            f"results folder {out_dir} holds a run of another scenario ({', '.join(sorted(changed))} differ); "
            "move or delete it, or write elsewhere (--out), so old results are not mixed with new ones"
        )
    if manifest is None:
        return
    from .tasks.data import DataError

    inputs = manifest.data.get("inputs", {})
    try:
        now = data_fingerprint(scenario)
    except DataError:  # the data cannot be read now: a run that needs it will say so when it starts
        now = None
    differences = data_differences(inputs.get("data"), now)
    if differences:
        raise RunError(f"results folder {out_dir} holds a run on other data: {'; '.join(differences)}")
    started = inputs.get("policy")
    if started and scenario["policy"]["file"]:
        from .rules.synaptic_rl.policy import resolve_policy_path

        now = policy_input(resolve_policy_path(scenario["policy"]["file"]))
        if (now["npz_sha256"], now["json_sha256"]) != (started["npz_sha256"], started["json_sha256"]):
            raise RunError(
                f"results folder {out_dir} holds a run that started from policy {started['path']}, and that policy "
                f"has changed since ({now['path']} now holds another table); move or delete the folder, or write "
                "elsewhere (--out), so results of the old table are not taken for the new one"
            )


def check_baseline_folder(folder: ResultsFolder, scenario) -> None:
    """A gradient-descent baseline keeps no checkpoint: one stopped before its end is run again,
    into its own folder only (same scenario); a finished one is never replaced."""
    state = folder_state(folder.path)
    folder.manifest = state.manifest
    if state.status is not None or (state.holds_run and state.manifest is None):
        raise RunError(f"results folder {folder.path} already holds a run ({state.what()}); {state.advice()}")
    if state.manifest is not None:
        changed = changed_keys(folder_scenario(folder.path, state.manifest), scenario) - RESUMABLE_CHANGES
        if changed:
            raise RunError(
                f"results folder {folder.path} holds an unfinished run of another scenario "
                f"({', '.join(sorted(changed))} differ); move or delete it, or write elsewhere (--out)"
            )


def begin(folder: ResultsFolder, scenario, names, inputs, trained: dict | None, threads, policy=None) -> dict:
    """Before the first write: refuse to replace an input or a file the run did not write, refuse other data
    on resume, record what the run is made of in the manifest, and say what is unusual about its data.

    Returns the effective values that differ from the scenario's (``{"task.batch_size": 7500}``)."""
    data = data_fingerprint(scenario)
    if folder.manifest is None and (folder.path / CHECKPOINT).exists():
        folder.adopt_legacy(names)
    folder.check_outputs(names, inputs)
    manifest = folder.manifest
    if manifest is not None:
        recorded = manifest.data.get("inputs", {})
        differences = data_differences(recorded.get("data"), data)
        if not differences and trained and recorded.get("trained_on"):
            if recorded["trained_on"].get("sha256") != trained["sha256"]:
                differences = ["the same data set now gives other training / validation arrays (another split)"]
        if differences:
            raise RunError(
                f"cannot resume the run in {folder.path} on other data: {'; '.join(differences)}; a resumed run "
                "continues on the data it started with: point task.data (--data) at that data"
            )
    else:
        manifest = folder.manifest = Manifest.new(folder.path)
    removed = folder.clean_stale_tmp(names)
    if removed:
        note(f"removed {len(removed)} unfinished temporary file(s) left by a stopped write: {', '.join(removed)}")
    manifest.data["scenario"] = scenario.to_toml()
    manifest.data["blas_threads"] = threads
    if manifest.data.get("platform"):
        note_other_platform(manifest.data["platform"])
    elif not manifest.data["files"]:  # a new run (a legacy folder's platform is not known)
        manifest.data["platform"] = compute_platform()
    manifest.data["inputs"] = {
        "data": data,
        "trained_on": trained,
        "policy": manifest.data.get("inputs", {}).get("policy") or policy_input(policy),
    }
    manifest.save()
    if data and data["skipped"]:
        shown = ", ".join(data["skipped_files"][:5]) + (", ..." if data["skipped"] > 5 else "")
        note(f"{data['skipped']} unreadable or empty image file(s) in {data['source']} were skipped: {shown}")
    effective = {}
    requested = scenario["task"]["batch_size"]
    if trained and "batch_size" in trained and "train" in trained and trained["batch_size"] != requested:
        effective["task.batch_size"] = trained["batch_size"]
        note(
            f"task.batch_size = {requested} exceeds the {trained['train']} training examples; every batch is the "
            f"whole training set ({trained['batch_size']}; summary.json records it under 'effective')"
        )
    return effective


def note_other_platform(started_on: dict) -> None:
    """Say so when a run resumes on another kind of machine: it goes on, but not bit for bit."""
    now = compute_platform()
    kind = ("machine", "blas", "blas_kernel", "simd")
    if any(started_on.get(k) != now[k] for k in kind):
        then_text = ", ".join(f"{k} {started_on.get(k)}" for k in kind)
        now_text = ", ".join(f"{k} {now[k]}" for k in kind)
        note(
            f"this run started on another kind of machine ({then_text}; here: {now_text}): "
            "it continues, but its sums round otherwise from here on, so it will not equal an uninterrupted run "
            "there bit for bit"
        )


def summary_record(folder: ResultsFolder, effective: dict) -> dict:
    """What summary.json says about the run's data, threads and platform."""
    inputs = folder.manifest.data["inputs"]
    out = {
        "blas_threads": folder.manifest.data["blas_threads"],
        "platform": folder.manifest.data.get("platform"),
        "data": inputs.get("data") or inputs.get("trained_on"),
    }
    if effective:
        out["effective"] = effective
    return out
