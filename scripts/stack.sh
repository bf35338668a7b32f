#!/usr/bin/env bash
# The local stack without Docker: scripts/stack.sh up|down|status|env [--only NAME].
# A thin wrapper: the implementation is the Python package scripts/stack/ run with the
# workspace venv. Data, logs and pid files live under $STACK_DIR (default <repo>/.stack).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$root/.venv/bin/python"
if [[ ! -x "$py" ]]; then
  echo "stack: $py is missing; run scripts/setup.sh first" >&2
  exit 1
fi
export PYTHONPATH="$root/scripts${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m stack "$@"
