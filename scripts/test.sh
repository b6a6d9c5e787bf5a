#!/usr/bin/env bash
# Every test layer: Python (unit, contract, snapshots, fuzz, e2e with the real opencode binary) and the JS shim
# (type check, then its tests under Node and under Bun). Assumes scripts/setup.sh has run (npm test does both).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0

.venv/bin/python -m pytest -q "$@" || status=$?

echo "== shim type check (tsc --checkJs)" >&2
node_modules/.bin/tsc -p tsconfig.json || status=$?

if compgen -G "tests/shim/*.test.mjs" >/dev/null; then
  echo "== shim tests under Node" >&2
  node --test tests/shim/ || status=$?
  echo "== shim tests under Bun" >&2
  node_modules/.bin/bun test tests/shim/ || status=$?
fi
exit $status
