#!/bin/sh
# BeforeInstall: check what the server needs and prepare its state directory. The files are
# copied after this hook (Install), into $FERRY_INSTALL_ROOT/srv/hello-site.
set -eu

root="${FERRY_INSTALL_ROOT:-}"
state="$root/var/lib/hello-site"

echo "$LIFECYCLE_EVENT of deployment $DEPLOYMENT_ID (application ${APPLICATION_NAME:-?}, group ${DEPLOYMENT_GROUP_NAME:-?})"
echo "install root: ${root:-/}"

if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is not installed on this host: hello-site is served by python3 -m http.server" >&2
    exit 1
fi
echo "python3: $(command -v python3) ($(python3 --version 2>&1))"

mkdir -p "$state"
echo "state directory (pid file, server log): $state"
