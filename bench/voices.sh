#!/usr/bin/env bash
# For every voice of this machine's catalogue (`peakreel voices`): the engine, real-time
# factor, median fundamental frequency (female entries should be >= 165 Hz, male
# <= 150 Hz) and pocketsphinx's word error rate on the fixed 60-word listing paragraph
# (bench/listing-paragraph.txt). Each voice is rendered through `peakreel render`'s
# narration path: the engine and voice the catalogue chose, at rate 1.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PEAKREEL_PIPER_VENV:-$HOME/.local/share/peakreel/piper-venv}
[ -x "$VENV/bin/piper" ] && export PATH="$VENV/bin:$PATH"
PY=$VENV/bin/python
METER=crates/speech/python/sphinx.py
TEXT=$(cat bench/listing-paragraph.txt)
cargo build -q -j2 --example say -p peakreel-speech
SAY=target/debug/examples/say
BIN=target/debug/peakreel
cargo build -q -j2 --bin peakreel
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

printf '%-20s %-9s %-6s %-6s %-18s %6s %7s %6s\n' voice_id name gender engine model rtf f0_hz wer
mapfile -t VOICES < <("$BIN" voices --json)
for line in "${VOICES[@]}"; do
  id=$(jq -r .voice_id <<<"$line"); name=$(jq -r .name <<<"$line")
  gender=$(jq -r .gender <<<"$line"); engine=$(jq -r .engine <<<"$line"); model=$(jq -r .model <<<"$line")
  out=$("$SAY" "$engine" "$model" "$WORK/$id.wav" "$TEXT")   # prints "cpu_seconds audio_seconds"
  rtf=$(awk '{printf "%.3f", $1 / $2}' <<<"$out")
  f0=$("$PY" "$METER" f0 "$WORK/$id.wav" | jq -r .median_f0)
  wer=$("$PY" "$METER" wer "$WORK/$id.wav" "$TEXT" | jq -r .wer)
  printf '%-20s %-9s %-6s %-6s %-18s %6s %7s %6s\n' "$id" "$name" "$gender" "$engine" "$model" "$rtf" "$f0" "$wer"
done
