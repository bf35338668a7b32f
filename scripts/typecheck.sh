#!/usr/bin/env bash
# mypy (strict, root config) over every package, each from its own folder so test
# modules of different packages may share names; then the root's tests/bench/scripts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mypy="$root/.venv/bin/mypy"
status=0
for pkg in "$root"/libs/* "$root"/services/*; do
  [[ -d "$pkg/src" ]] || continue
  targets=(src)
  [[ -n "$(find "$pkg/tests" -name "*.py" -print -quit 2>/dev/null)" ]] && targets+=(tests)
  echo "mypy ${pkg#"$root"/}"
  (cd "$pkg" && "$mypy" --config-file "$root/pyproject.toml" "${targets[@]}") || status=1
done
targets=()
for dir in tests bench scripts; do
  if [[ -n "$(find "$root/$dir" -name '*.py' -print -quit 2>/dev/null)" ]]; then targets+=("$dir"); fi
done
if ((${#targets[@]})); then
  echo "mypy ${targets[*]}"
  # scripts/ is the base of the stack tool's package (`python -m stack` from scripts/).
  (cd "$root" && MYPYPATH=scripts "$mypy" --config-file "$root/pyproject.toml" "${targets[@]}") \
    || status=1
fi
exit $status
