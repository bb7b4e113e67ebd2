#!/usr/bin/env bash
# Generates Python message and gRPC stubs for every .proto under proto/ into tests/python/_gen/
# (gitignored). conftest.py runs this at the start of every pytest session; run it by hand to
# import the stubs elsewhere: PYTHONPATH=tests/python/_gen.
#   PYTHON  interpreter with grpcio-tools (default: .venv/bin/python, else python3)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "${FERRY_VENV:-$ROOT/.venv}/bin/python" ]; then
    PYTHON="${FERRY_VENV:-$ROOT/.venv}/bin/python"
  else
    PYTHON=python3
  fi
fi

OUT="$HERE/_gen"
TMP="$(mktemp -d "$HERE/_gen.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

mapfile -t PROTOS < <(cd "$ROOT/proto" && find . -name '*.proto' -printf '%P\n' | sort)
[ "${#PROTOS[@]}" -gt 0 ] || { echo "gen.sh: no .proto files under $ROOT/proto" >&2; exit 1; }

# `python -m grpc_tools.protoc` adds grpcio-tools' own include dir (google/protobuf/*.proto).
(cd "$ROOT/proto" && "$PYTHON" -m grpc_tools.protoc -I . \
  --python_out="$TMP" --pyi_out="$TMP" --grpc_python_out="$TMP" "${PROTOS[@]}")

rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
