#!/usr/bin/env bash
# One-time (and idempotent) development setup: npm packages (incl. the pinned opencode-ai binary and bun) and the
# Python virtualenv `.venv` with the package installed in editable mode plus test dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x node_modules/.bin/opencode || package.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm install (opencode-ai, bun)" >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi

pick_python() {
  for candidate in "${KIMCHI_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [[ -n "$candidate" ]] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "setup: need Python >= 3.11 for development (set KIMCHI_PYTHON)" >&2
  return 1
}

stamp=".venv/.kimchi-setup-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  python="$(pick_python)"
  [[ -x .venv/bin/python ]] || "$python" -m venv .venv
  echo "setup: pip install -e .[test]" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' >&2
  rm -f .venv/.kimchi-setup-*
  touch "$stamp"
fi

# Bytecode for the package and its dependencies: the dev environment sets PYTHONDONTWRITEBYTECODE=1 and the package is
# installed editable, so without this every brain start (and every start-up benchmark) recompiles the package.
.venv/bin/python -m compileall -q -j 0 kimchi_plugin .venv/lib/python3*/site-packages >/dev/null
