#!/bin/sh
# Registers each agent named on the command line as an on-premises instance, tags it, and
# writes its credential to $CREDENTIALS_DIR/<name> (mode 0600), where that agent's config
# (credential_file) expects it. Run by compose's `bootstrap` service with the `ferry` image;
# the registry is $FERRY_ENDPOINT (the CLI's --endpoint).
#
# Safe to run again: an agent whose credential file exists is left alone. An agent that is
# registered but whose file is gone (the volume was removed) is deregistered and registered
# again, since a credential is shown only once.
set -eu

dir="${CREDENTIALS_DIR:-/var/lib/ferry-credentials}"
tag="${AGENT_TAG:-Key=ferry-compose,Value=agent}"
umask 077

if [ "$#" -eq 0 ]; then
    echo "usage: $0 INSTANCE_NAME..." >&2
    exit 2
fi
echo "registry: ${FERRY_ENDPOINT:-http://127.0.0.1:50051}"

for name in "$@"; do
    file="$dir/$name"
    if [ -s "$file" ]; then
        echo "$name: credential already in $file"
        continue
    fi
    if ferry get-on-premises-instance --instance-name "$name" >/dev/null 2>&1; then
        echo "$name: registered earlier, but $file is missing: deregistering to register again"
        ferry deregister-on-premises-instance --instance-name "$name" >/dev/null || true
    fi
    echo "$name: registering"
    answer="$(ferry register-on-premises-instance --instance-name "$name" --output json)"
    # The answer's instanceCredential (protobuf's JSON names; proto names accepted too).
    credential="$(printf '%s\n' "$answer" \
        | sed -nE 's/^[[:space:]]*"instance(Credential|_credential)":[[:space:]]*"([^"]+)".*/\2/p')"
    if [ -z "$credential" ]; then
        echo "$name: the answer holds no instanceCredential" >&2
        exit 1
    fi
    echo "$name: tagging $tag"
    ferry add-tags-to-on-premises-instances --instance-names "$name" --tags "$tag" >/dev/null
    # Written last and renamed into place: a file that exists is a complete, tagged registration.
    printf '%s\n' "$credential" >"$file.tmp"
    mv "$file.tmp" "$file"
    echo "$name: credential written to $file"
done
echo "done: $*"
