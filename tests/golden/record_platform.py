"""Record the golden trajectories for this machine's platform by replaying the code that recorded them.

    .venv/bin/python tests/golden/record_platform.py [--threads N] [--only GROUP ...]

A golden pins the numbers of the code as it was when it was recorded. Its floats depend on the
platform too (BLAS kernel and thread count, NumPy's SIMD level: ``provenance.compute_platform``),
so a machine of another kind needs its own copy, made by the *recording* code, never by today's:
each group below is replayed from the commit that wrote its files (checked out in a temporary git
worktree) and lands in ``tests/golden/platforms/<platform_key>/``. tests/test_golden.py and
tests/test_population.py then compare today's code against that copy on such a machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
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


def golden_path(filename: str) -> tuple[Path, int]:
    """This kind of machine's copy of a golden file where one was recorded (the one for the current
    BLAS thread count first), else the original recording (made on :data:`ORIGINAL`, the CI machines
    of the first sessions); and the BLAS thread count to replay it with."""
    from synapse_sim.provenance import compute_platform, platform_key

    platform = compute_platform()
    kind = platform_key(platform | {"blas_threads": 0})[: -len("0t")]
    copies = {int(folder.name[len(kind) : -1]): folder for folder in (HERE / "platforms").glob(f"{kind}*t")}
    for threads in sorted(copies, key=lambda n: n != platform["blas_threads"]):
        if (copies[threads] / filename).exists():
            return copies[threads] / filename, threads
    return HERE / filename, ORIGINAL_THREADS


def provenance_note(path: Path) -> str:
    """What a failed comparison says about where its golden file came from."""
    from synapse_sim.provenance import compute_platform

    made_on = f"platform {path.parent.name}" if path.parent.name != HERE.name else ORIGINAL
    return (
        f"compared with {path.relative_to(ROOT)}, recorded on {made_on}; this machine: {compute_platform()}. "
        "On a platform with no copy of its own, floats round otherwise: replay the recording commits here with "
        "tests/golden/record_platform.py, then compare again (never re-record from today's code)"
    )


def record(group: str, target: Path, threads: int) -> list[Path]:
    commit, script, names = GROUPS[group]
    with tempfile.TemporaryDirectory(prefix=f"golden-{group}-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True)
        try:
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
            command = [sys.executable, "-c", REPLAY, str(tree), str(tree / "tests" / "golden" / script), *names]
            subprocess.run(command, cwd=tree, env=env, check=True)
            written = [
                p for p in (tree / "tests" / "golden").glob("*.npz") if before.get(p.name) != p.stat().st_mtime_ns
            ]
            target.mkdir(parents=True, exist_ok=True)
            return [Path(shutil.copy2(p, target / p.name)) for p in written]
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


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
