#!/bin/sh
# Regenerates the protobuf-c bindings of schemas/onnx.proto and schemas/plan.proto into the
# CSchemas target: Sources/CSchemas/<name>.pb-c.c and Sources/CSchemas/include/<name>.pb-c.h.
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

mkdir -p "$target/include"
for name in onnx plan; do
  protoc-c --proto_path="$root/schemas" --c_out="$work" "$root/schemas/$name.proto"
  # The header goes to include/ (SwiftPM's public headers); the .c includes it by a path
  # relative to its own folder, so it compiles without relying on the include search path.
  cp "$work/$name.pb-c.h" "$target/include/$name.pb-c.h"
  sed "s|#include \"$name.pb-c.h\"|#include \"include/$name.pb-c.h\"|" "$work/$name.pb-c.c" \
    > "$target/$name.pb-c.c"
done
echo "regen.sh: wrote $target/{onnx,plan}.pb-c.c and include/ ($(protoc-c --version | head -n 1))"
