#!/bin/sh
# ApplicationStart: start python3 -m http.server in the background, fully detached: its own
# session (setsid), stdin from /dev/null, stdout and stderr to a log file. A hook must not
# leave its output open, or the agent waits for the hook's timeout and fails it
# ("failed to close STDOUT").
set -eu

root="${FERRY_INSTALL_ROOT:-}"
site="$root/srv/hello-site"
state="$root/var/lib/hello-site"
pidfile="$state/server.pid"
log="$state/server.log"
port="${HELLO_SITE_PORT:-8080}"

echo "$LIFECYCLE_EVENT of deployment $DEPLOYMENT_ID (application ${APPLICATION_NAME:-?}, group ${DEPLOYMENT_GROUP_NAME:-?})"
mkdir -p "$state"

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "a server is already running (pid $(cat "$pidfile")): ApplicationStop did not stop it; stopping it now"
    kill "$(cat "$pidfile")" 2>/dev/null || true
    sleep 1
fi
rm -f "$pidfile"

echo "starting python3 -m http.server on 127.0.0.1:$port, serving $site (log: $log)"
# Out of the revision's directory, so the server holds nothing the agent later prunes.
cd /
if command -v setsid >/dev/null 2>&1; then
    detach="setsid"
else
    detach="nohup"
fi
# The inner shell writes its own pid, then becomes the server (exec): the pid file names the
# server whatever setsid or nohup do.
# shellcheck disable=SC2016 # $$ and "$1".. are the inner shell's, hence the single quotes.
$detach sh -c 'echo $$ >"$1"; exec python3 -m http.server "$2" --bind 127.0.0.1 --directory "$3"' \
    hello-site "$pidfile" "$port" "$site" </dev/null >>"$log" 2>&1 &

waited=0
while [ ! -s "$pidfile" ]; do
    if [ "$waited" -ge 5 ]; then
        echo "the server did not write $pidfile within 5s" >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
pid="$(cat "$pidfile")"
# A port already in use makes the server exit at once.
sleep 1
if ! kill -0 "$pid" 2>/dev/null; then
    echo "the server (pid $pid) exited right away; the end of $log:" >&2
    tail -n 5 "$log" >&2 || true
    exit 1
fi
echo "started (pid $pid)"
