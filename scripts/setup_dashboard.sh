#!/usr/bin/env bash
# Make the browser dashboard work offline, in ./.venv (run scripts/setup.sh first).
#   scripts/setup_dashboard.sh          Vue 2 widget pins (ipyvue<3, ipyvuetify<3) and solara's front end,
#                                       npm-packed into .venv/share/solara/cdn/ (needs npm and the npm registry)
#   scripts/setup_dashboard.sh --test   also the Python package playwright and Debian's chromium
#                                       (apt-get update + apt-get install -y chromium when /usr/bin/chromium is missing)
# Idempotent: whatever is already in place is kept. Exits non-zero with a message when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
    echo "error: $*" >&2
    exit 1
}

test_mode=0
case "${1:-}" in
    --test) test_mode=1 ;;
    "") ;;
    *) die "unknown option '$1' (scripts/setup_dashboard.sh [--test])" ;;
esac

py=.venv/bin/python
[ -x "$py" ] || die ".venv/bin/python not found: run scripts/setup.sh first"
"$py" -c "import synapse_sim, solara, mesa" 2>/dev/null || die "synapse_sim is not installed in .venv: run scripts/setup.sh first"

pip_install() {
    if ! "$py" -m pip install --quiet --disable-pip-version-check "$@" >.venv/pip-dashboard.log 2>&1; then
        grep -v -E "^WARNING: Location .* is ignored" .venv/pip-dashboard.log >&2 || true
        die "pip install $* into .venv failed (pip's messages above)"
    fi
}

# 1. SolaraViz's grid layout renders with Vue 2 only; ipyvue / ipyvuetify 3 switch solara to its Vue 3
#    shell and the page stays empty.
if ! "$py" - <<'PY'; then
import sys
from importlib.metadata import PackageNotFoundError, version

try:
    sys.exit(0 if all(int(version(p).split(".")[0]) < 3 for p in ("ipyvue", "ipyvuetify")) else 1)
except PackageNotFoundError:
    sys.exit(1)
PY
    echo "setup_dashboard: installing ipyvue<3, ipyvuetify<3 (SolaraViz needs the Vue 2 widgets)"
    pip_install "ipyvue<3" "ipyvuetify<3"
fi

# 2. For the end-to-end test: playwright drives Debian's chromium (never `playwright install`: its browser
#    downloads cannot work on these machines).
if [ "$test_mode" = 1 ]; then
    if ! "$py" -c "import playwright.sync_api" 2>/dev/null; then
        echo "setup_dashboard: installing playwright (the Python package only)"
        pip_install "playwright>=1.40"
    fi
    if [ ! -x /usr/bin/chromium ]; then
        command -v apt-get >/dev/null 2>&1 || die "/usr/bin/chromium is missing and apt-get is not available: install Chromium (or set SYNAPSE_SIM_CHROMIUM to a chromium binary)"
        sudo=""
        if [ "$(id -u)" != 0 ]; then
            command -v sudo >/dev/null 2>&1 || die "installing chromium needs root: run 'apt-get install -y chromium' as root"
            sudo="sudo"
        fi
        echo "setup_dashboard: installing chromium with apt-get (about a minute)"
        if ! { $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium; } >.venv/apt-chromium.log 2>&1; then
            tail -20 .venv/apt-chromium.log >&2
            die "apt-get install chromium failed (last lines above, all in .venv/apt-chromium.log)"
        fi
        [ -x /usr/bin/chromium ] || die "apt-get installed chromium, but /usr/bin/chromium is still missing"
    fi
fi

# 3. solara's browser front end: the exact versions the installed solara pins, from the npm registry.
command -v npm >/dev/null 2>&1 || die "npm is not installed; the dashboard's front end comes from the npm registry: install Node.js and npm (Debian: apt-get install -y npm)"
"$py" -m synapse_sim.dashboard.assets || die "could not fill solara's front-end cache (message above)"
"$py" -m synapse_sim.dashboard.assets --check || die "solara's front-end cache is still incomplete"
echo "setup_dashboard: dashboard ready; start it with: synapse-sim dashboard [SCENARIO or RUN_FOLDER] (or .venv/bin/python -m synapse_sim.dashboard.server)"
