"""Record the golden trajectories for this machine's platform by replaying the code that recorded them.

    .venv/bin/python tests/golden/record_platform.py [--threads N] [--only GROUP ...]

A golden pins the numbers of the code as it was when it was recorded. Its floats depend on the
platform too (BLAS kernel and thread count, NumPy's SIMD level: ``provenance.compute_platform``),
so a machine of another kind needs its own copy, made by the *recording* code, never by today's:
each group below is replayed from the commit that wrote its files (unpacked with ``git archive`` into
a temporary folder) and lands in ``tests/golden/platforms/<platform_key>/``. tests/test_golden.py and
tests/test_population.py compare today's code against that copy on such a machine; on a kind with no
committed copy they make one first, in pytest's cache (``golden_path(..., cache=...)``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# group: (the commit that last wrote its files, its recording script, the cases it replays); fig1's
# commit also began moving modules and does not import, so its script runs on its parent's code
GROUPS = {
    "fig1": ("739929d^", "make_golden.py", ["fig1_adaptive", "fig1_static"]),
    "notmnist": ("a4a5094", "make_golden.py", ["notmnist_0hu", "notmnist_32hu"]),
    "control": ("82fc12f", "make_control_golden.py", []),
    "population": ("5631a97", "make_population_golden.py", ["decision_boundary", "notmnist_0hu"]),
}

# run a script of the old tree with the old tree's synapse_sim, not the editable install of today's
REPLAY = """
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__name__", type(f).__name__).lower()]
sys.path.insert(0, sys.argv[1])
import synapse_sim
assert synapse_sim.__file__.startswith(sys.argv[1]), synapse_sim.__file__
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


ORIGINAL_THREADS = 2
ORIGINAL = "an x86-64 machine with AVX-512 (NumPy SIMD X86_V4, OpenBLAS's AVX-512 kernels, 2 BLAS threads)"


def recording_of(filename: str) -> tuple[str, str]:
    """The group that recorded a golden file, and the case name its script takes for it."""
    stem = Path(filename).stem
    for group in ("control", "population"):
        if stem.startswith(f"{group}_"):
            return group, stem[len(group) + 1 :]
    for group in ("fig1", "notmnist"):
        if stem in GROUPS[group][2]:
            return group, stem
    raise KeyError(f"no recording group writes {filename}")


def golden_path(filename: str, cache: Path | None = None) -> tuple[Path, int]:
    """This kind of machine's copy of a golden file, and the BLAS thread count to replay it with.

    A committed copy for this kind (the current thread count first) wins. A kind with none has its
    copy made here, once, under ``cache`` (the recording commit replayed with the current thread
    count): the floats of another kind's file say nothing about this one. Without ``cache``, the
    original recording (made on :data:`ORIGINAL`, the CI machines of the first sessions)."""
    from synapse_sim.provenance import compute_platform, platform_key

    platform = compute_platform()
    kind = platform_key(platform | {"blas_threads": 0})[: -len("0t")]
    copies = {int(folder.name[len(kind) : -1]): folder for folder in (HERE / "platforms").glob(f"{kind}*t")}
    for threads in sorted(copies, key=lambda n: n != platform["blas_threads"]):
        if (copies[threads] / filename).exists():
            return copies[threads] / filename, threads
    if cache is None:
        return HERE / filename, ORIGINAL_THREADS
    threads = platform["blas_threads"]
    target = cache / platform_key(platform)
    if not (target / filename).exists():
        group, name = recording_of(filename)
        with _locked(cache / f"{filename}.lock"):
            if not (target / filename).exists():
                record(group, target, threads, names=[name])
    return target / filename, threads


@contextlib.contextmanager
def _locked(path: Path):
    """One replay per file across test processes (pytest-xdist workers share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def provenance_note(path: Path) -> str:
    """What a failed comparison says about where its golden file came from."""
    from synapse_sim.provenance import compute_platform

    if path.parent == HERE:
        made_on = ORIGINAL
    elif path.parent.parent == HERE / "platforms":
        made_on = f"platform {path.parent.name} (a committed copy)"
    else:
        made_on = f"this machine, replaying the recording commit into {path.parent}"
    return (
        f"compared with {path.name}, recorded on {made_on}; this machine: {compute_platform()}. "
        "Each golden is the recording commit's output on this kind of machine (tests/golden/record_platform.py "
        "replays it; never re-record from today's code): a difference is today's code changing a number"
    )


def _checkout(commit: str, tree: Path) -> None:
    """The commit's files, without touching the repository (no worktree to race on or leave behind)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit], check=False, capture_output=True
    )
    if archive.returncode:
        raise RuntimeError(
            f"cannot read recording commit {commit} from {ROOT}: {archive.stderr.decode().strip()} "
            "(the golden tests need the repository's history: clone without --depth)"
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")


def record(group: str, target: Path, threads: int, names: list[str] | None = None) -> list[Path]:
    """Replay one group's recording script on its commit's code; copy what it wrote to ``target``."""
    commit, script, default_names = GROUPS[group]
    with tempfile.TemporaryDirectory(prefix=f"golden-{group}-") as tmp:
        tree = Path(tmp) / "tree"
        _checkout(commit, tree)
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit.rstrip('^')}:tests/golden/{script}"],
            check=True,
            capture_output=True,
        ).stdout
        (tree / "tests" / "golden").mkdir(parents=True, exist_ok=True)
        (tree / "tests" / "golden" / script).write_bytes(source)
        before = {p.name: p.stat().st_mtime_ns for p in (tree / "tests" / "golden").glob("*.npz")}
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        env.setdefault("SYNAPSE_SIM_NOTMNIST", str(ROOT.parent / "shared" / "data" / "notmnist"))
        replay_names = default_names if names is None else names
        command = [sys.executable, "-c", REPLAY, str(tree), str(tree / "tests" / "golden" / script), *replay_names]
        subprocess.run(command, cwd=tree, env=env, check=True)
        written = [p for p in (tree / "tests" / "golden").glob("*.npz") if before.get(p.name) != p.stat().st_mtime_ns]
        target.mkdir(parents=True, exist_ok=True)
        return [Path(shutil.copy2(p, target / p.name)) for p in written]


def main(argv=None) -> None:
    from synapse_sim.provenance import compute_platform, platform_key

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(GROUPS), default=sorted(GROUPS))
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (the test suite runs with 1)")
    args = parser.parse_args(argv)
    platform = compute_platform() | {"blas_threads": args.threads}
    target = HERE / "platforms" / platform_key(platform)
    print(f"platform: {platform}\nwriting to {target}")
    for group in args.only:
        for path in record(group, target, args.threads):
            print(f"{group}: {path.name}")


if __name__ == "__main__":
    main()
