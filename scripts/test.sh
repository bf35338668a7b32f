#!/usr/bin/env bash
# Run the workspace's tests against the local stack: scripts/test.sh [pytest args...]
# Exports the stack's endpoints (scripts/stack.sh env; variables already set win) and
# treats "no tests collected" (pytest exit 5) as a failure, not a pass.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
exports="$("$root/scripts/stack.sh" env)" || exit 1
eval "$exports"
"$root/.venv/bin/pytest" "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "test.sh: pytest collected no tests (exit 5); treating that as a failure" >&2
  exit 1
fi
exit $rc
