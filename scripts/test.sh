#!/usr/bin/env bash
# Run the workspace's tests against the local stack: scripts/test.sh [pytest args...]
# Exports the stack's endpoints (scripts/stack.sh env; variables already set win) and
# treats "no tests collected" (pytest exit 5) as a failure, not a pass.
# The trading core runs its mypyc build (required: a missing or stale build fails the
# suite); a full run (no arguments) then runs the domain tests again on the pure-Python
# modules, the reference the compiled build must agree with.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
exports="$("$root/scripts/stack.sh" env)" || exit 1
eval "$exports"
export EXCHANGE_CORE_REQUIRE_NATIVE="${EXCHANGE_CORE_REQUIRE_NATIVE:-1}"
"$root/.venv/bin/pytest" "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "test.sh: pytest collected no tests (exit 5); treating that as a failure" >&2
  exit 1
fi
if [[ $rc -eq 0 && $# -eq 0 ]]; then
  echo "test.sh: domain tests again on the pure-Python modules (EXCHANGE_CORE_NATIVE=0)"
  EXCHANGE_CORE_NATIVE=0 EXCHANGE_CORE_REQUIRE_NATIVE=0 "$root/.venv/bin/pytest" -q \
    services/trading-core/tests/unit/domain
  rc=$?
fi
exit $rc
