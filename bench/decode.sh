#!/usr/bin/env bash
# Decode-path benchmark (issue 13, part 2): a generated 96-megapixel JPEG (and a 24 MP
# one) decoded as the creation check and as a 1080p render do. Prints the time of each
# and the peak memory; the peak before decoding is the generated JPEG's own.
#
# Usage: bench/decode.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-render}
cargo build --quiet --release -j2 -p peakreel-photo --example decode_bench
BIN=$CARGO_TARGET_DIR/release/examples/decode_bench
DIR=$(mktemp -d /tmp/peakreel-decode.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
for size in "6000 4000" "12000 8000"; do
  set -- $size
  "$BIN" "$DIR/$1x$2.jpg" "$1" "$2"
  echo "$1x$2: $("$BIN" "$DIR/$1x$2.jpg")"
done
