#!/usr/bin/env bash
# Room-label benchmark (issue 13 §1): every labelled photo of PHOTO_DIR through the real
# vision sidecar; prints each wrong label, the accuracy and the time per photo.
#
# Usage: bench/rooms.sh [PHOTO_DIR]   (default: ../shared/testdata/photos beside the repo)
# The detectors must be installed (scripts/install-deps.sh; PEAKREEL_VISION_DIR to move).
set -euo pipefail
cd "$(dirname "$0")/.."
PHOTOS=${1:-../shared/testdata/photos}
cargo build --quiet -j2 -p peakreel-media --example rooms_bench
exec target/debug/examples/rooms_bench "$PHOTOS"
