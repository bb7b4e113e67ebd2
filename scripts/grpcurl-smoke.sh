#!/usr/bin/env bash
# Smoke test of ferry-registry with grpcurl and NO .proto files: everything grpcurl knows
# comes from the server's reflection service. Starts the binary on a free loopback port with a
# fresh data dir (SQLite), checks list / describe / CreateApplication / GetApplication and the
# duplicate-name error, and stops it again.
#
#   FERRY_BIN_DIR  where ferry-registry is (default: <repo>/target/debug)
#   GRPCURL        grpcurl to use (default: $FERRY_VENV/bin/grpcurl, else grpcurl on PATH)
#   FERRY_TEST_START_TIMEOUT  seconds to wait for SERVING (default 60)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FERRY_VENV:-$ROOT/.venv}"
BIN_DIR="${FERRY_BIN_DIR:-target/debug}"
case "$BIN_DIR" in /*) ;; *) BIN_DIR="$ROOT/$BIN_DIR" ;; esac
BIN="$BIN_DIR/ferry-registry"
if [ -z "${GRPCURL:-}" ]; then
  if [ -x "$VENV/bin/grpcurl" ]; then GRPCURL="$VENV/bin/grpcurl"; else GRPCURL="$(command -v grpcurl || true)"; fi
fi
TIMEOUT="${FERRY_TEST_START_TIMEOUT:-60}"

passed=0
say() { printf 'grpcurl-smoke: %s\n' "$*" >&2; }
fail() {
  say "FAIL: $*"
  if [ -s "${WORK:-/nonexistent}/server.log" ]; then
    say "ferry-registry output (last lines):"
    tail -n 40 "$WORK/server.log" >&2
  fi
  echo "grpcurl-smoke: $passed passed, 1 failed"
  exit 1
}
ok() { passed=$((passed + 1)); say "ok: $*"; }

[ -x "$BIN" ] || fail "$BIN not found: build it (cargo build -p ferry-registry) or set FERRY_BIN_DIR"
{ [ -n "$GRPCURL" ] && [ -x "$GRPCURL" ]; } || fail "grpcurl not found: run scripts/install-tools.sh"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ferry-smoke.XXXXXX")"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# gc ARGS...: grpcurl against the server, reflection only (no -proto / -protoset anywhere).
gc() { "$GRPCURL" -plaintext -max-time 10 "$@"; }

# Start, and wait (polling, with a deadline) for grpc.health.v1 to say SERVING.
start() {
  ADDR="127.0.0.1:$(free_port)"
  mkdir -p "$WORK/data"
  # The binary reads FERRY_* variables as config and warns about unknown ones: drop ours.
  local unset=() v
  for v in $(compgen -e); do
    case "$v" in FERRY_BIN_DIR | FERRY_VENV | FERRY_TEST_*) unset+=(-u "$v") ;; esac
  done
  env "${unset[@]}" "$BIN" --listen "$ADDR" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
  PID=$!
  local deadline=$((SECONDS + TIMEOUT)) out
  while :; do
    kill -0 "$PID" 2>/dev/null || return 1
    out="$("$GRPCURL" -plaintext -max-time 1 "$ADDR" grpc.health.v1.Health/Check 2>&1 || true)"
    if grep -q '"status": "SERVING"' <<<"$out"; then return 0; fi
    [ "$SECONDS" -lt "$deadline" ] || fail "not SERVING within ${TIMEOUT}s; last health answer: $out"
    sleep 0.1
  done
}
# A free port can be taken between probing and binding: retry a few times.
started=0
for _ in 1 2 3; do
  if start; then started=1; break; fi
  wait "$PID" 2>/dev/null || true
  PID=""
  grep -qi 'in use' "$WORK/server.log" || break
done
[ "$started" = 1 ] || fail "ferry-registry exited during start-up"
ok "ferry-registry SERVING on $ADDR"
grep -q "$ADDR" "$WORK/server.log" || fail "server output does not mention its address $ADDR"
ok "server logged its address"

out="$(gc "$ADDR" list)" || fail "grpcurl list: $out"
for svc in ferry.registry.v1.RegistryService grpc.health.v1.Health; do
  grep -qx "$svc" <<<"$out" || fail "list lacks $svc; got: $out"
done
grep -Eq '^grpc\.reflection\.v1(alpha)?\.ServerReflection$' <<<"$out" || fail "list lacks ServerReflection; got: $out"
ok "list"

out="$(gc "$ADDR" describe ferry.registry.v1.RegistryService)" || fail "grpcurl describe: $out"
grep -q 'service RegistryService' <<<"$out" || fail "describe: no service; got: $out"
for rpc in CreateApplication GetApplication ListApplications; do
  grep -Eq "rpc $rpc \( ?\.ferry\.registry\.v1\.${rpc}Request ?\)" <<<"$out" || fail "describe lacks rpc $rpc; got: $out"
done
ok "describe ferry.registry.v1.RegistryService"

out="$(gc -d '{"application_name":"smoke"}' "$ADDR" ferry.registry.v1.RegistryService/CreateApplication)" \
  || fail "CreateApplication: $out"
# grpcurl prints proto field names (application_id); accept the JSON name (applicationId) too.
app_id="$(grep -Eo '"application_?[iI]d": "[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"' <<<"$out" \
  | grep -Eo '[0-9a-fA-F-]{36}')" || fail "CreateApplication: no UUID application_id; got: $out"
ok "CreateApplication -> $app_id"

out="$(gc -d '{"application_name":"smoke"}' "$ADDR" ferry.registry.v1.RegistryService/GetApplication)" \
  || fail "GetApplication: $out"
grep -Eq '"application_?[nN]ame": "smoke"' <<<"$out" || fail "GetApplication: wrong name; got: $out"
grep -Eq "\"application_?[iI]d\": \"$app_id\"" <<<"$out" || fail "GetApplication: id is not $app_id; got: $out"
ok "GetApplication"

rc=0
out="$(gc -d '{"application_name":"smoke"}' "$ADDR" ferry.registry.v1.RegistryService/CreateApplication 2>&1)" || rc=$?
[ "$rc" -ne 0 ] || fail "second CreateApplication succeeded: $out"
grep -q 'Code: AlreadyExists' <<<"$out" || fail "second CreateApplication: want AlreadyExists; got: $out"
ok "CreateApplication again -> AlreadyExists"

echo "grpcurl-smoke: $passed passed, 0 failed"
