#!/bin/sh
# A stand-in base interpreter for the bootstrap tests: answers the version probe, and as the environment builder
# (build_env.py VENV SPEC LOCK) does what FAKE_BUILD says: "hang" (a build that never ends), "ok" (a venv whose python
# runs the repository's .venv python, built in a moment).
if [ "$1" = "-c" ]; then echo "${FAKE_PYTHON_VERSION:-3.11}"; exit 0; fi
venv=$2 lock=$4
case "$FAKE_BUILD" in
  hang) exec sleep 600 ;;
  ok)
    mkdir -p "$venv/bin"
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$FAKE_VENV_TARGET" > "$venv/bin/python"
    chmod +x "$venv/bin/python"
    echo done > "$venv/.kimchi-ready"
    rm -rf "$lock"
    exit 0 ;;
  *) echo "fake build failed on purpose" > "$venv.failed"; rm -rf "$lock"; exit 1 ;;
esac
