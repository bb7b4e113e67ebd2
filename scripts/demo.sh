#!/bin/sh
# The README's first command: runs `ferry up` with one local agent, deploys
# examples/hello-site to it with the ferry CLI while watching it live, and leaves ferry
# running (Ctrl-C stops it). A second run reuses the data and deploys again.
#
#   FERRY_DEMO_DATA   data directory (default ./ferry-data)
#   FERRY_DEMO_LISTEN ferry's address (default 127.0.0.1:50051)
#   HELLO_SITE_PORT   the site's port (default 8080)
#   FERRY_DEMO_PROFILE cargo profile to build with (default release; CI uses dev)
#   FERRY_DEMO_EXIT   set to 1 to stop ferry once the site answers (CI)
set -eu
cd "$(dirname "$0")/.."

profile=${FERRY_DEMO_PROFILE:-release}
data=${FERRY_DEMO_DATA:-ferry-data}
listen=${FERRY_DEMO_LISTEN:-127.0.0.1:50051}
port=${HELLO_SITE_PORT:-8080}
export HELLO_SITE_PORT=$port
export FERRY_ENDPOINT="http://$listen"

cargo build -q --profile "$profile" -p ferry-cli
dir=$profile
[ "$profile" = dev ] && dir=debug
ferry="$PWD/target/$dir/ferry"

"$ferry" up --listen "$listen" --data-dir "$data" --agents 1 &
up=$!
stop() { kill -INT "$up" 2>/dev/null || true; wait "$up" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM

# Up once the registry answers (a polling loop for a person, not a test).
tries=0
until "$ferry" list-applications >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || { echo "ferry did not come up" >&2; exit 1; }
    kill -0 "$up" 2>/dev/null || { echo "ferry up exited" >&2; exit 1; }
    sleep 0.1
done

# Created on the first run; on later runs they exist already.
"$ferry" get-application --application-name demo >/dev/null 2>&1 ||
    "$ferry" create-application --application-name demo >/dev/null
"$ferry" get-deployment-group --application-name demo --deployment-group-name local >/dev/null 2>&1 ||
    "$ferry" create-deployment-group --application-name demo --deployment-group-name local \
        --on-premises-instance-tag-filters Key=ferry-up,Value=local,Type=KEY_AND_VALUE \
        --service-role-arn arn:aws:iam::000000000000:role/ferry >/dev/null

revision=$("$ferry" push --application-name demo --source examples/hello-site --output json 2>/dev/null)
"$ferry" create-deployment --application-name demo --deployment-group-name local \
    --revision "$revision" --watch >/dev/null

echo
echo "hello-site is served at http://127.0.0.1:$port/"
if [ "${FERRY_DEMO_EXIT:-}" = 1 ]; then
    python3 -c "import urllib.request,sys; sys.exit(0 if b'ferry' in urllib.request.urlopen('http://127.0.0.1:$port/').read() else 1)"
    echo "demo: the site answers; stopping it and ferry"
    pid_file="$data/agents/local-1/install/var/lib/hello-site/server.pid"
    [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2>/dev/null || true
    exit 0
fi
echo "ferry keeps running at $FERRY_ENDPOINT; Ctrl-C stops it."
wait "$up"
