#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every crate's tests (real ffmpeg,
# espeak-ng, SQLite and loopback HTTPS servers). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
PIPER_VENV=${PEAKREEL_PIPER_VENV:-$HOME/.local/share/peakreel/piper-venv}
[ -x "$PIPER_VENV/bin/piper" ] && export PATH="$PIPER_VENV/bin:$PATH"
JOBS=${CARGO_BUILD_JOBS:-2}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -j "$JOBS" -- -D warnings
cargo test --workspace --locked -j "$JOBS"
