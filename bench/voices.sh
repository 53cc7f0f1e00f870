#!/usr/bin/env bash
# For every voice of this machine's catalogue (`peakreel voices`): the engine, real-time
# factor, median fundamental frequency (female entries should be >= 165 Hz, male
# <= 150 Hz) and word error rates. Each voice is narrated through `peakreel render`'s
# narration path: the engine and voice the catalogue chose, at rate 1.
#
# Word error rates, (substitutions + deletions + insertions) / words:
# - `wer`: pocketsphinx on the issue's fixed 60-word listing paragraph
#   (bench/listing-paragraph.txt), the mean over the runs, and `wer_range` its range.
# - `wer5`: pocketsphinx pooled over that paragraph and four more listing paragraphs of
#   about 60 words (bench/listing-paragraphs.txt, written before they were measured): one
#   paragraph's figure is dominated by a few words its language model confuses ("calm" →
#   "com", "this bright" → "the sprite" on the fixed one), so five give a steadier one.
# - `acc5`: word accuracy over the five (recognised words / words; ignores insertions).
# - `wer5_ms`: the same five through a modern recogniser (Moonshine base,
#   crates/speech/python/transcribe.py): whether the words come across, where
#   pocketsphinx's acoustic model, trained on recorded human speech, also measures how
#   human the audio sounds (espeak-ng's formant voice: 0.85 with pocketsphinx, 0.03 here).
#
# Piper samples its durations and noise at random, so one narration is one draw: each
# Piper speaker (model) is narrated RUNS times (default 5) per paragraph; flite and
# espeak-ng are deterministic and narrated once. Catalogue voices that share a speaker
# share its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PEAKREEL_PIPER_VENV:-$HOME/.local/share/peakreel/piper-venv}
[ -x "$VENV/bin/piper" ] && export PATH="$VENV/bin:$PATH"
PY=$VENV/bin/python
METER=crates/speech/python/sphinx.py
LISTENER=crates/speech/python/transcribe.py
mapfile -t PARAGRAPHS < <(cat bench/listing-paragraph.txt bench/listing-paragraphs.txt)
RUNS=${RUNS:-5}
cargo build -q -j2 --example say -p peakreel-speech
SAY=target/debug/examples/say
BIN=target/debug/peakreel
cargo build -q -j2 --bin peakreel
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# errors JSON -> "errors words hits" of one recognition
counts() { jq -r '"\(.subs + .dels + .ins) \(.hits + .subs + .dels) \(.hits)"'; }

# measure ENGINE MODEL -> "rtf f0 wer wer_min-wer_max wer5 acc5 wer5_ms"
measure() {
  local engine=$1 model=$2 runs=$RUNS i p wav out cpu=0 audio=0
  case $engine in flite | espeak-ng) runs=1 ;; esac
  : >"$WORK/counts"
  for ((p = 0; p < ${#PARAGRAPHS[@]}; p++)); do
    for ((i = 0; i < runs; i++)); do
      wav=$WORK/$p-$i.wav
      out=$("$SAY" "$engine" "$model" "$wav" "${PARAGRAPHS[$p]}")   # "cpu_seconds audio_seconds"
      cpu=$(awk -v a="$cpu" '{print a + $1}' <<<"$out"); audio=$(awk -v a="$audio" '{print a + $2}' <<<"$out")
      echo "$p sphinx $("$PY" "$METER" wer "$wav" "${PARAGRAPHS[$p]}" | counts)" >>"$WORK/counts"
      echo "$p moonshine $("$PY" "$LISTENER" wer "$wav" "${PARAGRAPHS[$p]}" | counts)" >>"$WORK/counts"
    done
  done
  printf '%s %s ' "$(awk -v c="$cpu" -v a="$audio" 'BEGIN{printf "%.3f", c / a}')" \
    "$("$PY" "$METER" f0 "$WORK/0-0.wav" | jq -r .median_f0)"
  awk '$1 == 0 && $2 == "sphinx" {w = $3 / $4; s0 += w; n0++; if (n0 == 1 || w < lo) lo = w; if (n0 == 1 || w > hi) hi = w}
       $2 == "sphinx" {e += $3; n += $4; h += $5}
       $2 == "moonshine" {me += $3; mn += $4}
       END {printf "%.3f %.3f-%.3f %.3f %.3f %.3f\n", s0 / n0, lo, hi, e / n, h / n, me / mn}' "$WORK/counts"
}

printf '%-20s %-9s %-6s %-6s %-18s %6s %7s %6s %-11s %6s %6s %7s\n' \
  voice_id name gender engine model rtf f0_hz wer wer_range wer5 acc5 wer5_ms
declare -A SEEN
mapfile -t VOICES < <("$BIN" voices --json)
for line in "${VOICES[@]}"; do
  id=$(jq -r .voice_id <<<"$line"); name=$(jq -r .name <<<"$line")
  gender=$(jq -r .gender <<<"$line"); engine=$(jq -r .engine <<<"$line"); model=$(jq -r .model <<<"$line")
  key="$engine/$model"
  [ -n "${SEEN[$key]:-}" ] || SEEN[$key]=$(measure "$engine" "$model")
  read -r rtf f0 wer range wer5 acc5 ms <<<"${SEEN[$key]}"
  printf '%-20s %-9s %-6s %-6s %-18s %6s %7s %6s %-11s %6s %6s %7s\n' \
    "$id" "$name" "$gender" "$engine" "$model" "$rtf" "$f0" "$wer" "$range" "$wer5" "$acc5" "$ms"
done
