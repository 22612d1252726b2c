#!/bin/sh
# Regenerates the protobuf-c bindings of schemas/plan.proto into the CSchemas target:
# Sources/CSchemas/plan.pb-c.c and Sources/CSchemas/include/plan.pb-c.h, the same way regen.sh
# does for onnx.proto. Needs protoc-c (Debian/Ubuntu: apt-get install protobuf-c-compiler).
# Run from anywhere; commit the two generated files.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
target="$root/Sources/CSchemas"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v protoc-c >/dev/null 2>&1 || {
  echo "regen-plan.sh: protoc-c not found (install protobuf-c-compiler)" >&2
  exit 1
}

mkdir -p "$target/include"
protoc-c --proto_path="$root/schemas" --c_out="$work" "$root/schemas/plan.proto"
# The header goes to include/ (SwiftPM's public headers); the .c includes it by a path relative
# to its own folder, so it compiles without relying on the include search path.
cp "$work/plan.pb-c.h" "$target/include/plan.pb-c.h"
sed 's|#include "plan.pb-c.h"|#include "include/plan.pb-c.h"|' "$work/plan.pb-c.c" \
  > "$target/plan.pb-c.c"
echo "regen-plan.sh: wrote $target/plan.pb-c.c and include/plan.pb-c.h" \
  "($(protoc-c --version | head -n 1))"
