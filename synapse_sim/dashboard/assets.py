"""Fill solara-server's front-end cache so the dashboard works without internet.

solara-server loads its browser front end (the Vuetify app, require.js, fonts, the
grid layout SolaraViz uses, ...) through its own ``/_solara/cdn/`` route, which
serves files from ``<prefix>/share/solara/cdn/<package>@<version>/`` and fetches
what is missing from a public CDN at run time. Offline that fetch fails and the
page stays blank. This module reads the exact package versions the installed
solara pins (from its own templates and Vue files), ``npm pack``-s them from the
npm registry and unpacks each into that cache, once.

Command line (what ``scripts/setup_dashboard.sh`` runs)::

    python -m synapse_sim.dashboard.assets            # install what is missing
    python -m synapse_sim.dashboard.assets --check    # exit 1 and list what is missing
    python -m synapse_sim.dashboard.assets --list     # the pinned packages and the cache folder
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

MARKER = ".synapse_sim-unpacked"

# "{{cdn}}/pkg@1.2.3/..." in templates, "${this.getCdn()}/pkg@1.2.3/..." in Vue and Python sources,
# and the font-awesome default "/font-awesome@4.5.0/..." in solara's settings.
_PIN = re.compile(
    r"(?:\{\{\s*cdn\s*\}\}|getCdn\(\)\}|fontawesome_path: str = \")/((?:@[\w.-]+/)?[\w.-]+)@(\d+\.\d+\.\d+[\w.+-]*)/"
)
# Packages of solara's other Vue major version: only one of the two apps is ever loaded.
_VUETIFY_APPS = {2: "@widgetti/solara-vuetify-app", 3: "@widgetti/solara-vuetify3-app"}


class AssetError(RuntimeError):
    """The cache cannot be filled; the message says what to do."""


@dataclass(frozen=True, order=True)
class Asset:
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def solara_root() -> Path:
    import solara

    return Path(solara.__file__).parent


def vue_major() -> int:
    """Solara uses its Vue 3 shell when ipyvue 3 is installed (SolaraViz needs Vue 2: ipyvue<3)."""
    try:
        import ipyvue

        return 3 if int(str(ipyvue.__version__).split(".")[0]) >= 3 else 2
    except ImportError:
        return 2


def pinned_assets(root: Path | None = None, major: int | None = None) -> list[Asset]:
    """The exact ``package@version`` pins in solara's templates, Vue files and settings.

    Range pins (``vega@5``, used only by altair charts) and versions chosen at run time
    (``echarts@${version}``) are not included; pass them as ``extra`` to :func:`install`.
    """
    root = root or solara_root()
    major = major or vue_major()
    skip = {name for m, name in _VUETIFY_APPS.items() if m != major}
    found = set()
    for pattern in ("server/templates/*.j2", "server/templates/*.html", "server/settings.py", "**/*.vue", "**/*.py"):
        for path in root.glob(pattern):
            if "website" in path.parts or "template" in path.relative_to(root).parts[:1]:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for name, version in _PIN.findall(text):
                if name not in skip:
                    found.add(Asset(name, version))
    names = {a.name for a in found}
    if _VUETIFY_APPS[major] not in names or "requirejs" not in names:
        raise AssetError(
            f"could not find solara's front-end pins in {root} (found {sorted(a.spec for a in found)}); "
            "this solara version lays out its templates differently, update synapse_sim/dashboard/assets.py"
        )
    return sorted(found)


def cache_dir() -> Path:
    """solara-server's CDN cache, as solara computes it (honours SOLARA_ASSETS_PROXY_CACHE_DIR)."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def is_installed(asset: Asset, cache: Path) -> bool:
    return (cache / asset.spec / MARKER).is_file()


def missing(assets: list[Asset], cache: Path) -> list[Asset]:
    return [a for a in assets if not is_installed(a, cache)]


def parse_spec(spec: str) -> Asset:
    name, sep, version = spec.rpartition("@")
    if not sep or not name or not version:
        raise AssetError(f"expected PACKAGE@VERSION (e.g. vega@5), got {spec!r}")
    return Asset(name, version)


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError(
            "npm is not installed; the dashboard's front end comes from the npm registry. "
            "Install Node.js and npm (Debian: apt-get install -y npm) and run scripts/setup_dashboard.sh again"
        )
    return npm


def _safe_members(archive: tarfile.TarFile, prefix: str = "package/"):
    for member in archive.getmembers():
        name = member.name
        if not name.startswith(prefix) or not (member.isfile() or member.isdir()):
            continue
        relative = name[len(prefix) :]
        if not relative or relative.startswith("/") or ".." in Path(relative).parts:
            continue
        member.name = relative
        yield member


def install_one(asset: Asset, cache: Path, npm: str | None = None, log=print) -> Path:
    """``npm pack`` one package and unpack its ``package/`` folder into ``cache/<name>@<version>/``."""
    npm = npm or _npm()
    target = cache / asset.spec
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="synsim-npm-") as tmp:
        result = subprocess.run(
            [npm, "pack", asset.spec, "--pack-destination", tmp, "--loglevel=error", "--ignore-scripts"],
            capture_output=True,
            text=True,
            cwd=tmp,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            lines = [ln for ln in (result.stderr + result.stdout).splitlines() if ln.strip() and "nodedir" not in ln]
            detail = lines[:2]  # npm's first lines say what failed (e.g. "npm error code ECONNREFUSED")
            raise AssetError(
                f"`npm pack {asset.spec}` failed (exit {result.returncode}): {' / '.join(detail) or 'no tarball'}; "
                "is the npm registry reachable (npm config get registry)?"
            )
        staging = Path(tempfile.mkdtemp(prefix=f".{asset.spec.replace('/', '_')}-", dir=target.parent))
        try:
            with tarfile.open(tarballs[0], "r:gz") as archive:
                archive.extractall(staging, members=list(_safe_members(archive)), filter="data")
            (staging / MARKER).write_text(f"{asset.spec}\n")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    log(f"assets: {asset.spec} -> {target}")
    return target


def install(extra: list[str] = (), cache: Path | None = None, log=print) -> list[Asset]:
    """Install every pinned (and ``extra``) package missing from the cache; return those installed."""
    cache = cache or cache_dir()
    wanted = sorted(set(pinned_assets()) | {parse_spec(s) for s in extra})
    todo = missing(wanted, cache)
    if not todo:
        log(f"assets: all {len(wanted)} front-end packages present in {cache}")
        return []
    npm = _npm()
    for asset in todo:
        install_one(asset, cache, npm, log)
    return todo


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synapse_sim.dashboard.assets", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a package is missing")
    parser.add_argument("--list", action="store_true", help="print the pinned packages and the cache folder")
    parser.add_argument("--extra", action="append", default=[], metavar="PKG@VERSION", help="also install this one")
    args = parser.parse_args(argv)
    try:
        cache = cache_dir()
        wanted = sorted(set(pinned_assets()) | {parse_spec(s) for s in args.extra})
        if args.list:
            print(f"cache: {cache}")
            for asset in wanted:
                print(f"{asset.spec}\t{'present' if is_installed(asset, cache) else 'missing'}")
            return 0
        if args.check:
            absent = missing(wanted, cache)
            for asset in absent:
                print(f"missing: {asset.spec} (in {cache})", file=sys.stderr)
            return 1 if absent else 0
        install(args.extra, cache)
    except AssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
