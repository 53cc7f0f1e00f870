#!/usr/bin/env bash
# The non-neural candidates for voices no neural model fills: every flite voice Debian
# ships and espeak-ng's US and British variants, each reading the fixed listing paragraph.
# Prints engine, voice, real-time factor, median F0 (Hz) and word error rate
# (pocketsphinx). The catalogue's fallback choices (crates/speech/src/choice.rs) come
# from this table.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PEAKREEL_PIPER_VENV:-$HOME/.local/share/peakreel/piper-venv}/bin/python
METER=crates/speech/python/sphinx.py
TEXT=$(cat bench/listing-paragraph.txt)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

measure() { # engine voice wav seconds-of-cpu
  local dur f0 wer
  dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$3")
  f0=$("$PY" "$METER" f0 "$3" | sed 's/.*: *\([0-9.]*\).*/\1/')
  wer=$("$PY" "$METER" wer "$3" "$TEXT" | sed 's/.*"wer": *\([0-9.]*\).*/\1/')
  printf '%-10s %-16s %6.3f %7s %6s\n' "$1" "$2" "$(echo "$4 / $dur" | bc -l)" "$f0" "$wer"
}
cpu() { /usr/bin/time -f %U+%S "$@" 2>&1 >/dev/null | tail -1 | bc -l; }

printf '%-10s %-16s %6s %7s %6s\n' engine voice rtf f0_hz wer
for v in slt rms awb kal16; do
  t=$(cpu flite -voice "$v" -t "$TEXT" -o "$WORK/$v.wav")
  measure flite "$v" "$WORK/$v.wav" "$t"
done
for v in en-us+f1 en-us+f2 en-us+f3 en-us+f4 en-us+f5 en-gb+f3 en-gb-x-rp+f3 en-gb-x-rp+f4 \
         en-us+m1 en-us+m2 en-us+m3 en-us+m4 en-gb+m1 en-gb+m3 en-gb-x-rp+m1 en-us en-gb; do
  t=$(cpu espeak-ng -v "$v" -w "$WORK/$v.wav" "$TEXT")
  measure espeak-ng "$v" "$WORK/$v.wav" "$t"
done
