#!/usr/bin/env bash
# Minimal end-to-end smoke (seed: scripts/smoke_e2e.sh): a ledger deposit reaches the
# core, orders trade over gRPC, the trade settles in the ledger exactly. Real processes
# on a private Kafka broker; PostgreSQL and Redis from the local stack (started if down).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/stack.sh" up --only postgres --only redis
exec "$root/scripts/test.sh" "$root/tests/e2e" -q "$@"
