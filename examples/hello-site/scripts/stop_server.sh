#!/bin/sh
# ApplicationStop: stop the server the last successful deployment started, if it runs.
# CodeDeploy runs this hook from the revision that is installed now, so a first deployment
# has nothing to stop and does not run it at all.
set -eu

root="${FERRY_INSTALL_ROOT:-}"
state="$root/var/lib/hello-site"
pidfile="$state/server.pid"

echo "$LIFECYCLE_EVENT of deployment $DEPLOYMENT_ID (application ${APPLICATION_NAME:-?}, group ${DEPLOYMENT_GROUP_NAME:-?})"

if [ ! -f "$pidfile" ]; then
    echo "no pid file at $pidfile: nothing to stop"
    exit 0
fi
pid="$(cat "$pidfile")"
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "pid ${pid:-?} from $pidfile is not running: removing the stale pid file"
    rm -f "$pidfile"
    exit 0
fi
# A recycled pid must not be killed: on Linux, check that it is still the http.server.
if [ -r "/proc/$pid/cmdline" ] && ! tr '\000' ' ' <"/proc/$pid/cmdline" | grep -q 'http.server'; then
    echo "pid $pid is no longer hello-site's server: leaving it alone, removing the pid file"
    rm -f "$pidfile"
    exit 0
fi

echo "stopping the hello-site server (pid $pid) with SIGTERM"
kill "$pid"
waited=0
while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 10 ]; then
        echo "still running after ${waited}s: sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
        break
    fi
    sleep 1
    waited=$((waited + 1))
done
rm -f "$pidfile"
echo "stopped"
