#!/usr/bin/env bash
# The compose topology without Docker: the registry, revisions and orchestrator as processes
# reading deploy/compose/config/*.yaml (the compose host names swapped for loopback addresses
# by FERRY_* variables, which win over the files), one fresh PostgreSQL database shared by all
# three, moto as the S3 store (path-style), and agent-1 with config/agent-1.yaml. It registers
# agent-1 as bootstrap.sh does, uploads examples/hello-site, deploys it through the
# orchestrator, and checks the site answers with the deployment's id. Everything listens on
# 127.0.0.1 ports picked free; everything it started is stopped, the database dropped.
#
#   FERRY_BIN_DIR           the service binaries (default: <repo>/target/debug; cargo build
#                           -p ferry-registry -p ferry-revisions -p ferry-orchestrator -p ferry-agent)
#   FERRY_VENV              moto_server and grpcurl (default: <repo>/.venv, scripts/install-tools.sh)
#   FERRY_TEST_POSTGRES_URL a PostgreSQL database URL; the server it names gets a scratch database
#                           (default: postgres://postgres@127.0.0.1:5432/test)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONFIG="$ROOT/deploy/compose/config"
VENV="${FERRY_VENV:-$ROOT/.venv}"
BIN_DIR="${FERRY_BIN_DIR:-target/debug}"
case "$BIN_DIR" in /*) ;; *) BIN_DIR="$ROOT/$BIN_DIR" ;; esac
PG_URL="${FERRY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_SERVER="${PG_URL%/*}"
DB="ferry_compose_smoke_$$"
GRPCURL="$VENV/bin/grpcurl"

say() { printf 'compose-smoke: %s\n' "$*" >&2; }
fail() {
  say "FAIL: $*"
  for log in "$WORK"/*.log "$WORK"/agent/logs/*.log; do
    [ -s "$log" ] || continue
    say "--- $log (last lines)"
    tail -n 20 "$log" >&2
  done
  exit 1
}

for tool in "$BIN_DIR/ferry-registry" "$BIN_DIR/ferry-revisions" "$BIN_DIR/ferry-orchestrator" \
    "$BIN_DIR/ferry-agent" "$VENV/bin/moto_server" "$GRPCURL"; do
  [ -x "$tool" ] || { say "missing: $tool"; exit 1; }
done
command -v psql >/dev/null || { say "missing: psql"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ferry-compose-smoke.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -f "$WORK/agent/install/var/lib/hello-site/server.pid" ]; then
    FERRY_INSTALL_ROOT="$WORK/agent/install" LIFECYCLE_EVENT=ApplicationStop DEPLOYMENT_ID=smoke \
      sh "$ROOT/examples/hello-site/scripts/stop_server.sh" >/dev/null 2>&1 || true
  fi
  psql "$PG_SERVER/postgres" -qc "drop database if exists $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
gc() { "$GRPCURL" -plaintext -max-time 10 "$@"; }
json() { python3 -c "import json, sys; print($1)"; }

# The services read every FERRY_* variable as a setting: start them from a clean slate.
mapfile -t inherited < <(env | sed -n 's/^\(FERRY_[A-Z0-9_]*\)=.*/\1/p')
clean_env=()
for name in "${inherited[@]}"; do clean_env+=(-u "$name"); done
run() { # run NAME COMMAND... (FERRY_* settings as NAME=VALUE words before the command)
  local name="$1"; shift
  env "${clean_env[@]}" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

psql "$PG_SERVER/postgres" -qc "create database $DB" >/dev/null || fail "cannot create database $DB on $PG_SERVER"
DB_URL="$PG_SERVER/$DB"

S3=$(free_port); REGISTRY=$(free_port); REVISIONS=$(free_port); ORCHESTRATOR=$(free_port); SITE=$(free_port)

run moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3"
for _ in $(seq 120); do curl -s -o /dev/null "http://127.0.0.1:$S3/" && break; sleep 0.5; done
curl -fsS -X PUT "http://127.0.0.1:$S3/ferry-bundles" >/dev/null || fail "cannot create the bucket"

run registry FERRY_DATABASE_URL="$DB_URL" FERRY_LISTEN="127.0.0.1:$REGISTRY" FERRY_DATA_DIR="$WORK/registry" \
  "$BIN_DIR/ferry-registry" --config "$CONFIG/registry.yaml"
run revisions FERRY_DATABASE_URL="$DB_URL" FERRY_LISTEN="127.0.0.1:$REVISIONS" FERRY_DATA_DIR="$WORK/revisions" \
  FERRY_REGISTRY_ENDPOINT="http://127.0.0.1:$REGISTRY" FERRY_BLOBS__S3__ENDPOINT="http://127.0.0.1:$S3" \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  "$BIN_DIR/ferry-revisions" --config "$CONFIG/revisions.yaml"
run orchestrator FERRY_DATABASE_URL="$DB_URL" FERRY_LISTEN="127.0.0.1:$ORCHESTRATOR" FERRY_DATA_DIR="$WORK/orchestrator" \
  FERRY_REGISTRY_ENDPOINT="http://127.0.0.1:$REGISTRY" FERRY_REVISIONS_ENDPOINT="http://127.0.0.1:$REVISIONS" \
  "$BIN_DIR/ferry-orchestrator" --config "$CONFIG/orchestrator.yaml"

for port in "$REGISTRY" "$REVISIONS" "$ORCHESTRATOR"; do
  status=""
  for _ in $(seq 120); do
    status="$(gc "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null | tr -d ' \n' || true)"
    [ "$status" = '{"status":"SERVING"}' ] && break
    sleep 0.5
  done
  [ "$status" = '{"status":"SERVING"}' ] || fail "127.0.0.1:$port is not SERVING: $status"
done
say "ok: registry, revisions and orchestrator SERVING on one PostgreSQL database"

# What bootstrap.sh does for agent-1, and the deployment group of deploy/compose/README.md.
gc -d '{"application_name":"demo"}' "127.0.0.1:$REGISTRY" ferry.registry.v1.RegistryService/CreateApplication >/dev/null
gc -d '{"application_name":"demo","deployment_group_name":"compose","service_role_arn":"arn:aws:iam::000000000000:role/ferry","on_premises_instance_tag_filters":[{"key":"ferry-compose","value":"agent","type":"TAG_FILTER_TYPE_KEY_AND_VALUE"}]}' \
  "127.0.0.1:$REGISTRY" ferry.registry.v1.RegistryService/CreateDeploymentGroup >/dev/null
credential="$(gc -d '{"instance_name":"agent-1"}' "127.0.0.1:$REGISTRY" ferry.registry.v1.RegistryService/RegisterOnPremisesInstance \
  | sed -nE 's/^[[:space:]]*"instance(Credential|_credential)":[[:space:]]*"([^"]+)".*/\2/p')"
[ -n "$credential" ] || fail "no credential from RegisterOnPremisesInstance"
(umask 077 && printf '%s\n' "$credential" >"$WORK/agent-1.credential")
gc -d '{"instance_names":["agent-1"],"tags":[{"key":"ferry-compose","value":"agent"}]}' \
  "127.0.0.1:$REGISTRY" ferry.registry.v1.RegistryService/AddTagsToOnPremisesInstances >/dev/null

run agent FERRY_ORCHESTRATOR_ENDPOINT="http://127.0.0.1:$ORCHESTRATOR" FERRY_CREDENTIAL_FILE="$WORK/agent-1.credential" \
  FERRY_DEPLOYMENT_ROOT="$WORK/agent/root" FERRY_LOG_DIR="$WORK/agent/logs" FERRY_INSTALL_ROOT="$WORK/agent/install" \
  HELLO_SITE_PORT="$SITE" \
  "$BIN_DIR/ferry-agent" --config "$CONFIG/agent-1.yaml" run
say "ok: agent-1 registered, tagged and started"

tar -czf "$WORK/bundle.tgz" -C "$ROOT/examples/hello-site" .
uploaded="$(printf '{"header":{"application_name":"demo","bundle_type":"BUNDLE_TYPE_TGZ"}}\n{"chunk":"%s"}\n' \
  "$(base64 -w0 "$WORK/bundle.tgz")" | gc -d @ "127.0.0.1:$REVISIONS" ferry.revision.v1.RevisionService/UploadBundle)" \
  || fail "UploadBundle: $uploaded"
location="$(echo "$uploaded" | json 'json.dumps(json.load(sys.stdin)["location"])')"
sha256="$(echo "$uploaded" | json 'json.load(sys.stdin)["sha256"]')"
objects="$(curl -fsS "http://127.0.0.1:$S3/ferry-bundles?list-type=2")"
case "$objects" in *"revisions/sha256/"*"$sha256"*) ;; *) fail "bundle $sha256 is not in the S3 bucket: $objects" ;; esac
say "ok: examples/hello-site uploaded, stored in S3 under revisions/sha256/"

# The agent's stream may take a moment: a deployment created before it is up still starts it
# once it connects (the orchestrator waits event_start_timeout_secs).
deployment="$(gc -d "{\"application_name\":\"demo\",\"deployment_group_name\":\"compose\",\"revision\":$location}" \
  "127.0.0.1:$ORCHESTRATOR" ferry.deploy.v1.DeploymentService/CreateDeployment)" || fail "CreateDeployment: $deployment"
id="$(echo "$deployment" | json 'json.load(sys.stdin)["deploymentId"]')"
status=""
for _ in $(seq 240); do
  status="$(gc -d "{\"deployment_id\":\"$id\"}" "127.0.0.1:$ORCHESTRATOR" ferry.deploy.v1.DeploymentService/GetDeployment \
    | json 'json.load(sys.stdin)["deploymentInfo"]["status"]')"
  case "$status" in *SUCCEEDED | *FAILED | *STOPPED) break ;; esac
  sleep 0.5
done
[ "$status" = DEPLOYMENT_STATUS_SUCCEEDED ] || fail "deployment $id: $status"
curl -fsS "http://127.0.0.1:$SITE/deployment.txt" | grep -qx "deployment_id=$id" \
  || fail "the site does not name deployment $id"
say "ok: deployment $id succeeded; the site answers on 127.0.0.1:$SITE with its id"
echo "compose-smoke: 5 passed, 0 failed"
