#!/bin/sh
# AfterInstall: record which deployment installed the site, in a file the site serves
# (/deployment.txt), so ValidateService and people can tell which revision answers.
set -eu

root="${FERRY_INSTALL_ROOT:-}"
site="$root/srv/hello-site"

echo "$LIFECYCLE_EVENT of deployment $DEPLOYMENT_ID (application ${APPLICATION_NAME:-?}, group ${DEPLOYMENT_GROUP_NAME:-?})"

cat >"$site/deployment.txt" <<INFO
deployment_id=$DEPLOYMENT_ID
application_name=${APPLICATION_NAME:-}
deployment_group_name=${DEPLOYMENT_GROUP_NAME:-}
bundle_sha256=${BUNDLE_SHA256:-}
installed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
INFO
echo "wrote $site/deployment.txt:"
sed 's/^/  /' "$site/deployment.txt"
echo "files under $site:"
find "$site" -type f | sort | sed 's/^/  /'
