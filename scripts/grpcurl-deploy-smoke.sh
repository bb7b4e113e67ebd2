#!/usr/bin/env bash
# A whole deployment driven with grpcurl and NO .proto files: everything grpcurl knows comes
# from reflection. Starts `ferry up --agents 1` on a free loopback port with a fresh data
# dir, then: list services, CreateApplication, CreateDeploymentGroup, UploadBundle (a client
# stream of JSON messages, the bundle base64 in `chunk`), CreateDeployment, GetDeployment until
# Succeeded, WatchDeployment replaying the log to its end (hook output included), and a
# CodeDeploy exception. Stops ferry with SIGINT.
#
#   FERRY_BIN_DIR  where `ferry` is (default: <repo>/target/debug)
#   GRPCURL        grpcurl to use (default: $FERRY_VENV/bin/grpcurl, else grpcurl on PATH)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FERRY_VENV:-$ROOT/.venv}"
BIN_DIR="${FERRY_BIN_DIR:-target/debug}"
case "$BIN_DIR" in /*) ;; *) BIN_DIR="$ROOT/$BIN_DIR" ;; esac
FERRY="$BIN_DIR/ferry"
if [ -z "${GRPCURL:-}" ]; then
  if [ -x "$VENV/bin/grpcurl" ]; then GRPCURL="$VENV/bin/grpcurl"; else GRPCURL="$(command -v grpcurl || true)"; fi
fi
PY="${PYTHON:-python3}"

passed=0
say() { printf 'grpcurl-deploy-smoke: %s\n' "$*" >&2; }
fail() {
  say "FAIL: $*"
  [ -s "${WORK:-/nonexistent}/up.log" ] && { say "ferry up output (last lines):"; tail -n 40 "$WORK/up.log" >&2; }
  echo "grpcurl-deploy-smoke: $passed passed, 1 failed"
  exit 1
}
ok() { passed=$((passed + 1)); say "ok: $*"; }

[ -x "$FERRY" ] || fail "$FERRY not found: build it (cargo build -p ferry-cli) or set FERRY_BIN_DIR"
{ [ -n "$GRPCURL" ] && [ -x "$GRPCURL" ]; } || fail "grpcurl not found: run scripts/install-tools.sh"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ferry-deploy-smoke.XXXXXX")"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -INT "$PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gc() { "$GRPCURL" -plaintext -max-time 20 "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ADDR="127.0.0.1:$PORT"
env -u FERRY_BIN_DIR -u FERRY_VENV "$FERRY" up --listen "$ADDR" --data-dir "$WORK/data" --agents 1 >"$WORK/up.log" 2>&1 &
PID=$!
deadline=$((SECONDS + 90))
until grep -q "ferry is up at" "$WORK/up.log" 2>/dev/null; do
  kill -0 "$PID" 2>/dev/null || fail "ferry up exited"
  [ "$SECONDS" -lt "$deadline" ] || fail "ferry up did not come up within 90 s"
  sleep 0.1
done
ok "ferry up --agents 1 on $ADDR"

services="$(gc "$ADDR" list)"
for s in ferry.registry.v1.RegistryService ferry.revision.v1.RevisionService ferry.deploy.v1.DeploymentService ferry.agent.v1.AgentService; do
  grep -qx "$s" <<<"$services" || fail "reflection does not list $s: $services"
done
ok "reflection lists the registry, revisions, deployment and agent services"

gc -d '{"application_name":"demo","compute_platform":"COMPUTE_PLATFORM_SERVER"}' "$ADDR" ferry.registry.v1.RegistryService/CreateApplication >/dev/null \
  || fail "CreateApplication"
gc -d '{"application_name":"demo","deployment_group_name":"local","deployment_config_name":"CodeDeployDefault.AllAtOnce",
        "service_role_arn":"arn:aws:iam::000000000000:role/ferry",
        "on_premises_instance_tag_filters":[{"key":"ferry-up","value":"local","type":"TAG_FILTER_TYPE_KEY_AND_VALUE"}]}' \
  "$ADDR" ferry.registry.v1.RegistryService/CreateDeploymentGroup >/dev/null || fail "CreateDeploymentGroup"
ok "CreateApplication, CreateDeploymentGroup"

# The bundle: an AppSpec with one hook that prints a line, as a tgz, base64 in one chunk.
"$PY" - "$WORK/bundle.tgz" <<'PY'
import io, sys, tarfile
files = {
    "appspec.yml": ("version: 0.0\nos: linux\nfiles:\n  - source: app.txt\n    destination: /srv/smoke\n"
                    "hooks:\n  ValidateService:\n    - location: check.sh\n", 0o644),
    "app.txt": ("smoke\n", 0o644),
    "check.sh": ("#!/bin/sh\necho \"validated $DEPLOYMENT_ID\"\n", 0o755),
}
with tarfile.open(sys.argv[1], "w:gz") as tar:
    for name, (text, mode) in files.items():
        data = text.encode()
        info = tarfile.TarInfo(name); info.size = len(data); info.mode = mode
        tar.addfile(info, io.BytesIO(data))
PY
chunk="$(base64 -w0 "$WORK/bundle.tgz")"
upload="$(printf '{"header":{"application_name":"demo"}}\n{"chunk":"%s"}\n' "$chunk" \
  | gc -d @ "$ADDR" ferry.revision.v1.RevisionService/UploadBundle)" || fail "UploadBundle"
location="$(json 'json.dumps(d["location"])' <<<"$upload")"
ok "UploadBundle (client stream) -> $(json 'd["location"]["revisionType"]' <<<"$upload")"

created="$(gc -d "{\"application_name\":\"demo\",\"deployment_group_name\":\"local\",\"revision\":$location}" \
  "$ADDR" ferry.deploy.v1.DeploymentService/CreateDeployment)" || fail "CreateDeployment"
id="$(json 'd["deploymentId"]' <<<"$created")"
ok "CreateDeployment -> $id"

deadline=$((SECONDS + 90))
while :; do
  status="$(gc -d "{\"deployment_id\":\"$id\"}" "$ADDR" ferry.deploy.v1.DeploymentService/GetDeployment \
    | json 'd["deploymentInfo"]["status"]')"
  case "$status" in
    DEPLOYMENT_STATUS_SUCCEEDED) break ;;
    DEPLOYMENT_STATUS_FAILED | DEPLOYMENT_STATUS_STOPPED) fail "deployment $id ended $status" ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || fail "deployment $id still $status after 90 s"
  sleep 0.2
done
ok "GetDeployment -> Succeeded"

watched="$(gc -d "{\"deployment_id\":\"$id\"}" "$ADDR" ferry.deploy.v1.DeploymentService/WatchDeployment)" \
  || fail "WatchDeployment"
grep -q "validated $id" <<<"$watched" || fail "WatchDeployment did not replay the hook's output"
grep -q '"status": "DEPLOYMENT_STATUS_SUCCEEDED"' <<<"$watched" || fail "WatchDeployment did not end with Succeeded"
ok "WatchDeployment replays the log with the hook's output, then ends"

refused="$(gc -d '{"deployment_id":"d-AAAAAAAAA"}' "$ADDR" ferry.deploy.v1.DeploymentService/GetDeployment 2>&1 || true)"
# grpcurl prints the code and message (the ErrorInfo detail needs google.rpc's descriptors).
grep -q "Code: NotFound" <<<"$refused" || fail "want NotFound for an unknown deployment; got: $refused"
ok "GetDeployment of an unknown id -> NotFound"

kill -INT "$PID"
for _ in $(seq 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "ferry up did not stop on SIGINT"
wait "$PID" || fail "ferry up exited non-zero on SIGINT"
PID=""
ok "SIGINT stops ferry up"

echo "grpcurl-deploy-smoke: $passed passed, 0 failed"
