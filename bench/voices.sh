#!/usr/bin/env bash
# For every voice of this machine's catalogue (`peakreel voices`): the engine, real-time
# factor, median fundamental frequency (female entries should be >= 165 Hz, male
# <= 150 Hz) and pocketsphinx's word error rate on the fixed 60-word listing paragraph
# (bench/listing-paragraph.txt). Each voice is rendered through `peakreel render`'s
# narration path: the engine and voice the catalogue chose, at rate 1.
#
# Piper samples its durations and noise at random, so one narration is one draw: the same
# model gave WERs from 0.30 to 0.45 on eight runs. Each distinct speaker (engine + model)
# is therefore narrated RUNS times (default 5) and the table gives the mean WER, its
# range, and the mean word accuracy (recognised words / 60, which ignores insertions);
# catalogue voices that share a speaker share its figures. flite and espeak-ng are
# deterministic: their range is one value. `wer_ms` is the mean WER of a second, modern
# recogniser (Moonshine base, crates/speech/python/transcribe.py) on the same narrations:
# whether the words come across, where pocketsphinx's figure also measures how close to a
# recorded human voice the audio sounds.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PEAKREEL_PIPER_VENV:-$HOME/.local/share/peakreel/piper-venv}
[ -x "$VENV/bin/piper" ] && export PATH="$VENV/bin:$PATH"
PY=$VENV/bin/python
METER=crates/speech/python/sphinx.py
LISTENER=crates/speech/python/transcribe.py
TEXT=$(cat bench/listing-paragraph.txt)
RUNS=${RUNS:-5}
cargo build -q -j2 --example say -p peakreel-speech
SAY=target/debug/examples/say
BIN=target/debug/peakreel
cargo build -q -j2 --bin peakreel
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# measure ENGINE MODEL -> "rtf f0 wer_mean wer_min-wer_max accuracy_mean moonshine_wer_mean"
measure() {
  local engine=$1 model=$2 i out cpu=0 audio=0 wers=() accs=() mwers=() f0 r
  for ((i = 0; i < RUNS; i++)); do
    out=$("$SAY" "$engine" "$model" "$WORK/$i.wav" "$TEXT")   # "cpu_seconds audio_seconds"
    cpu=$(awk -v a="$cpu" '{print a + $1}' <<<"$out"); audio=$(awk -v a="$audio" '{print a + $2}' <<<"$out")
    r=$("$PY" "$METER" wer "$WORK/$i.wav" "$TEXT")
    wers+=("$(jq -r .wer <<<"$r")"); accs+=("$(jq -r .accuracy <<<"$r")")
    mwers+=("$("$PY" "$LISTENER" wer "$WORK/$i.wav" "$TEXT" | jq -r .wer)")
  done
  f0=$("$PY" "$METER" f0 "$WORK/0.wav" | jq -r .median_f0)
  printf '%s\n' "${wers[@]}" | awk -v rtf="$(awk -v c="$cpu" -v a="$audio" 'BEGIN{printf "%.3f", c / a}')" \
    -v f0="$f0" -v acc="$(printf '%s\n' "${accs[@]}" | awk '{s += $1} END {printf "%.3f", s / NR}')" \
    -v ms="$(printf '%s\n' "${mwers[@]}" | awk '{s += $1} END {printf "%.3f", s / NR}')" \
    'NR == 1 {lo = hi = $1} {s += $1; if ($1 < lo) lo = $1; if ($1 > hi) hi = $1}
     END {printf "%s %s %.3f %.3f-%.3f %s %s\n", rtf, f0, s / NR, lo, hi, acc, ms}'
}

printf '%-20s %-9s %-6s %-6s %-18s %6s %7s %6s %-11s %6s %6s\n' \
  voice_id name gender engine model rtf f0_hz wer wer_range acc wer_ms
declare -A SEEN
mapfile -t VOICES < <("$BIN" voices --json)
for line in "${VOICES[@]}"; do
  id=$(jq -r .voice_id <<<"$line"); name=$(jq -r .name <<<"$line")
  gender=$(jq -r .gender <<<"$line"); engine=$(jq -r .engine <<<"$line"); model=$(jq -r .model <<<"$line")
  key="$engine/$model"
  [ -n "${SEEN[$key]:-}" ] || SEEN[$key]=$(measure "$engine" "$model")
  read -r rtf f0 wer range acc ms <<<"${SEEN[$key]}"
  printf '%-20s %-9s %-6s %-6s %-18s %6s %7s %6s %-11s %6s %6s\n' \
    "$id" "$name" "$gender" "$engine" "$model" "$rtf" "$f0" "$wer" "$range" "$acc" "$ms"
done
