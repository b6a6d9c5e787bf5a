#!/usr/bin/env bash
# Every test layer: Python (unit, integration, contract, snapshots, fuzz, fault, perf, e2e and newuser with the real
# opencode binary), static checks (ruff, ruff format, mypy; tsc --checkJs on the shim) and the JS shim's tests under
# Node and under Bun. Assumes scripts/setup.sh has run (npm test does both). Arguments go to pytest
# (`npm test -- tests/unit`).
#
# The Python suite and the two shim suites run at the same time, and pytest spreads its tests over
# KIMCHI_TEST_WORKERS pytest-xdist workers (default: one per CPU; the e2e layer's opencode runs are CPU-bound, and more
# workers only make every timed budget compete; 0 runs them in one process). Each suite's output is printed whole
# when it ends, its time last; the exit status is non-zero when any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."

workers="${KIMCHI_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}"
logs="$(mktemp -d "${TMPDIR:-/tmp}/kimchi-test.XXXXXX")"
trap 'rm -rf "$logs"' EXIT

names=()
pids=()
start() { # NAME COMMAND...: run in the background, output and time into $logs/NAME
  local name="$1"
  shift
  (
    began=$SECONDS
    "$@" >"$logs/$name" 2>&1
    rc=$?
    echo "== $name: exit $rc in $((SECONDS - began)) s" >>"$logs/$name"
    exit $rc
  ) &
  names+=("$name")
  pids+=($!)
}

start pytest .venv/bin/python -m pytest -q -n "$workers" "$@"
start tsc node_modules/.bin/tsc -p tsconfig.json
start lint bash -c '.venv/bin/ruff check kimchi_plugin scripts tests && .venv/bin/ruff format --check kimchi_plugin scripts tests && .venv/bin/mypy'
if compgen -G "tests/shim/*.test.mjs" >/dev/null; then
  start shim-node node --test tests/shim/
  start shim-bun node_modules/.bin/bun test tests/shim/
fi

status=0
summary=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
  echo "==== ${names[$i]}" >&2
  cat "$logs/${names[$i]}" >&2
  summary+=("$(tail -n 1 "$logs/${names[$i]}")")
done
printf '%s\n' "${summary[@]}" >&2
exit $status
