#!/usr/bin/env bash
# Set up synapse_sim in ./.venv with a Python >= 3.12 found on this machine.
#   scripts/setup.sh          the package and its command `synapse-sim`
#   scripts/setup.sh --test   also what the test suite needs
# Set PYTHON=/path/to/python3.12 to choose the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."

is_312() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.14 python3.13 python3.12 python3 python \
        "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python /root/.pyenv/versions/3.1[2-9]*/bin/python \
        /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && is_312 "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ -x .venv/bin/python ] && is_312 .venv/bin/python; then
    :
else
    if ! python=$(find_python); then
        cat >&2 <<'MSG'
error: synapse_sim needs Python >= 3.12 (Mesa 3.5 requires it), and none was found.
Install one, e.g. `apt-get install python3.12 python3.12-venv`, `pyenv install 3.12`,
or from python.org, then run this again (or point to it: PYTHON=/path/to/python3.12 scripts/setup.sh).
MSG
        exit 1
    fi
    echo "setup: creating .venv with $python ($("$python" --version 2>&1))"
    rm -rf .venv
    "$python" -m venv .venv
fi

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}" >.venv/pip.log 2>&1; then
    grep -v -E "^WARNING: Location .* is ignored" .venv/pip.log >&2 || true
    echo "error: installing synapse_sim${extras} into .venv failed (pip's messages above)" >&2
    exit 1
fi
scripts/setup_dashboard.sh ${1:-}
.venv/bin/python -c "import synapse_sim, mesa; print(f'setup: synapse_sim {synapse_sim.__version__}, mesa {mesa.__version__} ready in .venv')"
