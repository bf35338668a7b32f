#!/usr/bin/env bash
# Install everything the project needs on a Debian 12 machine (as root, no Docker):
#   apt packages (Redis, PostgreSQL, a JDK, Maven, npm) only when missing,
#   uv (via pip) when missing, the workspace venv (.venv, uv sync --frozen),
#   the pinned buf (npm ci in contracts/), the Kafka broker jars (infra/local/lib), and
#   the mypyc build of the trading core's hot modules (build/native-core, ADR 0003).
# Idempotent: each step is skipped when its result is present and its inputs (hashed
# into a stamp file beside the result) did not change. One line per step.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf 'setup: %-14s %s\n' "$1" "$2"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# A stamp file holds the sha256 of a step's inputs; fresh means the step can be skipped.
inputs_hash() { cat "$@" | sha256sum | cut -d' ' -f1; }
stamp_fresh() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

# --- 1. Debian packages ------------------------------------------------------------------
apt_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || missing+=(postgresql)
  command -v psql >/dev/null || missing+=(postgresql-client)
  command -v java >/dev/null || missing+=(default-jdk-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v npm >/dev/null || missing+=(npm)
  command -v gcc >/dev/null || missing+=(gcc)
  # uv comes from pip when missing; Debian's python3 has no pip until python3-pip.
  command -v uv >/dev/null || python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  if ((${#missing[@]} == 0)); then
    say apt "present (redis-server, postgresql, java, maven, npm, gcc)"
    return
  fi
  [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}: run as root or install them"
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # The stack runs its own cluster; do not let the package start one on 5432.
    mkdir -p /etc/postgresql-common
    grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
      echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
  fi
  local log=/tmp/exchange-setup-apt.log
  DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
    die "apt-get update failed; read $log"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >>"$log" 2>&1 || die "apt-get install ${missing[*]} failed; read $log"
  say apt "installed ${missing[*]}"
}

UV=(uv)  # the uv command (a module call when its script is not on PATH)

# --- 2. uv -----------------------------------------------------------------------------------
uv_tool() {
  if command -v uv >/dev/null; then
    say uv "present ($(uv --version | cut -d' ' -f2))"
    return
  fi
  local py
  py=$(command -v python3) || die "python3 (3.11) is required"
  "$py" -m pip install -q uv >/tmp/exchange-setup-uv.log 2>&1 ||
    "$py" -m pip install -q --break-system-packages uv >>/tmp/exchange-setup-uv.log 2>&1 ||
    die "pip install uv failed; read /tmp/exchange-setup-uv.log"
  hash -r
  command -v pyenv >/dev/null && pyenv rehash
  # Installed; if its script folder is not on PATH, run it as a module.
  command -v uv >/dev/null || UV=("$py" -m uv)
  say uv "installed ($("${UV[@]}" --version | cut -d' ' -f2))"
}

# --- 3. the workspace venv -----------------------------------------------------------------
venv() {
  local inputs stamp=.venv/.setup-sync.sha256 want
  mapfile -t inputs < <(find . -name pyproject.toml -not -path './.venv/*' \
    -not -path './.stack/*' -not -path './.git/*' -not -path '*/node_modules/*' | sort)
  [[ -f uv.lock ]] && inputs+=(uv.lock)
  want=$(inputs_hash "${inputs[@]}")
  if [[ -x .venv/bin/python ]] && stamp_fresh "$stamp" "$want"; then
    say venv "up to date (.venv)"
    return
  fi
  local log=/tmp/exchange-setup-uv-sync.log mode=--frozen
  [[ -f uv.lock ]] || mode=""
  # shellcheck disable=SC2086  # $mode is one flag or nothing
  flock /tmp/exchange-uv.lock "${UV[@]}" sync --all-packages $mode >"$log" 2>&1 ||
    die "uv sync failed; read $log"
  echo "$want" >"$stamp"
  say venv "synced (.venv${mode:+, $mode})"
}

# --- 4. buf (npm) ----------------------------------------------------------------------------
buf_cli() {
  local stamp=contracts/node_modules/.setup-npm.sha256 want lock=contracts/package-lock.json
  [[ -f contracts/package.json ]] || { say buf "skipped (no contracts/package.json)"; return; }
  want=$(inputs_hash contracts/package.json $([[ -f $lock ]] && echo $lock))
  if [[ -x contracts/node_modules/.bin/buf ]] && stamp_fresh "$stamp" "$want"; then
    say buf "up to date ($(contracts/node_modules/.bin/buf --version))"
    return
  fi
  local log=/tmp/exchange-setup-npm.log verb=install
  [[ -f $lock ]] && verb=ci
  (cd contracts && npm "$verb" --no-audit --no-fund) >"$log" 2>&1 ||
    die "npm $verb in contracts/ failed; read $log"
  echo "$want" >"$stamp"
  say buf "installed ($(contracts/node_modules/.bin/buf --version), npm $verb)"
}

# --- 5. Kafka jars ---------------------------------------------------------------------------
kafka_jars() {
  local lib=infra/local/lib stamp=infra/local/lib/.setup-mvn.sha256 want
  want=$(inputs_hash infra/local/pom.xml)
  if compgen -G "$lib/kafka_2.13-*.jar" >/dev/null && stamp_fresh "$stamp" "$want"; then
    say kafka-jars "up to date ($(ls "$lib"/*.jar | wc -l) jars in $lib)"
    return
  fi
  local log=/tmp/exchange-setup-mvn.log
  rm -rf "$lib"
  mvn -B -q -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory="$root/$lib" \
    -DincludeScope=runtime -f infra/local/pom.xml >"$log" 2>&1 ||
    die "maven could not fetch the Kafka jars; read $log"
  echo "$want" >"$stamp"
  say kafka-jars "fetched ($(ls "$lib"/*.jar | wc -l) jars in $lib)"
}

# --- 6. compiled trading core (mypyc) ---------------------------------------------------------
native_core() {
  local out
  command -v cc >/dev/null || command -v gcc >/dev/null || die "a C compiler is needed (apt install gcc)"
  out=$(.venv/bin/python scripts/build_native.py 2>&1) || die "$out"
  say native-core "${out#build_native: }"
}

apt_packages
uv_tool
venv
buf_cli
kafka_jars
native_core
