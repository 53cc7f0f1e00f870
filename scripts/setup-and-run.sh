#!/usr/bin/env bash
# One command from a fresh Debian machine to a running PeakReel: install the
# dependencies, build the release binary, and serve with the embedded defaults
# (data in ./peakreel-data, listening on 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --locked --bin peakreel
PIPER_VENV=${PEAKREEL_PIPER_VENV:-$HOME/.local/share/peakreel/piper-venv}
[ -x "$PIPER_VENV/bin/piper" ] && export PATH="$PIPER_VENV/bin:$PATH"
exec ./target/release/peakreel serve "$@"
