#!/bin/sh
# Regenerates the protobuf-c bindings of schemas/onnx.proto into the CSchemas target:
#   Sources/CSchemas/onnx.pb-c.c and Sources/CSchemas/include/onnx.pb-c.h
# Needs protoc-c (Debian/Ubuntu: apt-get install protobuf-c-compiler). Run from anywhere.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
target="$root/Sources/CSchemas"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v protoc-c >/dev/null 2>&1 || {
  echo "regen.sh: protoc-c not found (install protobuf-c-compiler)" >&2
  exit 1
}

protoc-c --proto_path="$root/schemas" --c_out="$work" "$root/schemas/onnx.proto"

mkdir -p "$target/include"
# The header goes to include/ (SwiftPM's public headers); the .c includes it by a path relative
# to its own folder, so it compiles without relying on the include search path.
cp "$work/onnx.pb-c.h" "$target/include/onnx.pb-c.h"
sed 's|#include "onnx.pb-c.h"|#include "include/onnx.pb-c.h"|' "$work/onnx.pb-c.c" \
  > "$target/onnx.pb-c.c"
echo "regen.sh: wrote $target/onnx.pb-c.c and $target/include/onnx.pb-c.h ($(protoc-c --version | head -n 1))"
