#!/bin/sh
# ValidateService: poll the site until it serves the page and this deployment's
# deployment.txt, or fail after about 10 seconds.
set -eu

root="${FERRY_INSTALL_ROOT:-}"
log="$root/var/lib/hello-site/server.log"
port="${HELLO_SITE_PORT:-8080}"
url="http://127.0.0.1:$port"

echo "$LIFECYCLE_EVENT of deployment $DEPLOYMENT_ID (application ${APPLICATION_NAME:-?}, group ${DEPLOYMENT_GROUP_NAME:-?})"

# GET a URL to stdout: curl when the host has it, else python3 (which the server needs anyway).
fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 2 "$1"
    else
        python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' "$1"
    fi
}

attempt=1
while :; do
    if page="$(fetch "$url/" 2>&1)" && echo "$page" | grep -q 'Hello from ferry'; then
        if info="$(fetch "$url/deployment.txt" 2>&1)" && echo "$info" | grep -qx "deployment_id=$DEPLOYMENT_ID"; then
            echo "attempt $attempt: $url/ answers with the page, and deployment.txt names $DEPLOYMENT_ID"
            exit 0
        fi
        echo "attempt $attempt: the page answers, but deployment.txt does not name $DEPLOYMENT_ID yet"
    else
        echo "attempt $attempt: $url/ does not answer with the page yet: $(echo "$page" | tail -n 1)"
    fi
    if [ "$attempt" -ge 10 ]; then
        echo "hello-site did not answer correctly within 10 attempts" >&2
        if [ -f "$log" ]; then
            echo "the end of $log:" >&2
            tail -n 10 "$log" >&2
        fi
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 1
done
