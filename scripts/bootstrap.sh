# Sourced by scripts/run and scripts/test: a project virtualenv with pinned dependencies.
# Usage: . scripts/bootstrap.sh EXTRAS   (e.g. "embedded-redis" or "embedded-redis,test,dev")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WXHUB_VENV:-$ROOT/.venv}"
EXTRAS="$1"

find_python() {
    local candidate
    for candidate in "${WXHUB_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "wxhub needs Python >= 3.11 (set WXHUB_PYTHON to its path)" >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    PYTHON="$(find_python)"
    echo "bootstrap: creating $VENV with $PYTHON" >&2
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the pins, the project metadata or the extras change.
STAMP="$VENV/.wxhub-install-stamp"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16) $EXTRAS"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "bootstrap: installing wxhub[$EXTRAS] with pinned dependencies" >&2
    # (This machine's pip configuration names local indexes that may be absent: drop that noise.)
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$ROOT/constraints.txt" -e "$ROOT[$EXTRAS]" 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$WANT" >"$STAMP"
fi
export PATH="$VENV/bin:$PATH"
