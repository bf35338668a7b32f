#!/usr/bin/env bash
# Fail when contracts/proto breaks compatibility with the previous commit of main
# (override the baseline with BUF_AGAINST_REF, e.g. origin/main).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
buf=contracts/node_modules/.bin/buf
ref=${BUF_AGAINST_REF:-HEAD~1}
if ! git rev-parse --verify -q "$ref^{commit}" >/dev/null; then
  echo "buf breaking: no baseline commit $ref (first commit or shallow clone): nothing to compare"
  exit 0
fi
if ! git cat-file -e "$ref:contracts/buf.yaml" 2>/dev/null; then
  echo "buf breaking: $ref has no contracts module yet: nothing to compare"
  exit 0
fi
"$buf" breaking contracts --against ".git#ref=$ref,subdir=contracts"
echo "buf breaking: contracts compatible with $ref"
