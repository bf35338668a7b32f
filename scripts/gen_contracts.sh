#!/usr/bin/env bash
# Regenerate contracts/gen/python from contracts/proto (protobuf + gRPC + mypy stubs).
#   scripts/gen_contracts.sh          regenerate in place
#   scripts/gen_contracts.sh --check  fail if the committed code is stale
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=${PYTHON:-$root/.venv/bin/python}

generate() {  # $1: output dir
  local out=$1
  mkdir -p "$out"
  mapfile -t protos < <(cd contracts/proto && find . -name '*.proto' | sed 's|^\./||' | sort)
  "$py" -m grpc_tools.protoc -I contracts/proto \
    --python_out="$out" --grpc_python_out="$out" \
    --plugin=protoc-gen-mypy="$root/.venv/bin/protoc-gen-mypy" --mypy_out="$out" \
    --plugin=protoc-gen-mypy_grpc="$root/.venv/bin/protoc-gen-mypy_grpc" --mypy_grpc_out="$out" \
    "${protos[@]}"
  # Packages: every generated directory gets an __init__.py; the top one is typed.
  find "$out/exchange" -type d -exec touch {}/__init__.py \;
  touch "$out/exchange/py.typed"
}

if [[ "${1:-}" == "--check" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  if ! diff -r -q -x __pycache__ "$tmp/exchange" contracts/gen/python/exchange; then
    echo "contracts/gen/python is stale: run scripts/gen_contracts.sh and commit" >&2
    exit 1
  fi
  echo "generated code in sync"
else
  rm -rf contracts/gen/python/exchange
  generate contracts/gen/python
  echo "generated contracts/gen/python/exchange"
fi
