#!/usr/bin/env bash
# Static checks of infra/ (compose ports and mounts, k8s manifests, GitOps apps):
#   scripts/validate_infra.sh [REPO_ROOT]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$root/.venv/bin/python" "$root/scripts/lib/infra_validation.py" "${1:-$root}"
