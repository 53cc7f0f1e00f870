#!/usr/bin/env bash
# Render benchmark (issue 3): eight real photos → 1080p landscape, ~300-character script,
# classic subtitles, a logo, generated music. Prints wall time, CPU time and peak memory of
# the render, and compares it with the encode floor: the same number of 1080p frames
# encoded from one still with the same encoder settings.
#
# Usage: bench/render.sh [PHOTO_DIR]   (default: ../shared/testdata/photos beside the repo)
# Piper is used when `piper` is on PATH (or PEAKREEL_PIPER_BIN is set), else espeak-ng.
set -euo pipefail
cd "$(dirname "$0")/.."
PHOTOS=${1:-../shared/testdata/photos}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-render}
OUT=$(mktemp -d /tmp/peakreel-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

cargo build --quiet --release -j2 -p peakreel-media --example render_bench
BIN=$CARGO_TARGET_DIR/release/examples/render_bench

# GNU time: %e wall, %U user, %S system, %M peak resident set (KiB) of the largest process.
TIMEFMT='%e %U %S %M'
/usr/bin/time -f "$TIMEFMT" -o "$OUT/render.time" "$BIN" "$PHOTOS" "$OUT/r" > "$OUT/render.json"
read -r R_WALL R_USR R_SYS R_MEM < "$OUT/render.time"
FRAMES=$(sed -n 's/.*"frames":\([0-9]*\).*/\1/p' "$OUT/render.json")
DUR=$(sed -n 's/.*"duration_s":\([0-9.]*\).*/\1/p' "$OUT/render.json")
STAGES=$(sed -n 's/.*"timeline_s":{\([^}]*\)}.*/\1/p' "$OUT/render.json")
ENGINE=$(sed -n 's/.*"engine":"\([a-z-]*\)".*/\1/p' "$OUT/render.json")
STILL=$(ls "$PHOTOS"/*.jpg | grep -v portrait | sort | head -1)

# The floor: one still, decoded once, looped to the same frame count; same x264 settings.
# The renderer's own H.264 settings, as the benchmark binary reports them.
read -r -a H264 <<< "$(sed -n 's/.*"h264":"\([^"]*\)".*/\1/p' "$OUT/render.json")"
[ "${#H264[@]}" -gt 0 ] || { echo "render_bench did not report its H.264 settings" >&2; exit 1; }
ENC=("${H264[@]}" -movflags +faststart -f mp4)
/usr/bin/time -f "$TIMEFMT" -o "$OUT/floor.time" ffmpeg -hide_banner -nostdin -v error -y \
  -framerate 30 -i "$STILL" -filter_complex \
  "[0:v]scale=1920:1080:force_original_aspect_ratio=increase,crop=1920:1080,setsar=1,format=yuv420p,loop=loop=$((FRAMES-1)):size=1,setpts=N/30/TB[v]" \
  -map '[v]' "${ENC[@]}" "$OUT/floor.mp4"
read -r F_WALL F_USR F_SYS F_MEM < "$OUT/floor.time"

# For context: the same still with the cheapest possible motion (a 2 px/frame diagonal
# pan, with room for every frame of it), to separate what motion costs the encoder from
# what the render graph costs.
PW=$((1920 + 2 * FRAMES)); PH=$((1080 + 2 * FRAMES))
/usr/bin/time -f "$TIMEFMT" -o "$OUT/pan.time" ffmpeg -hide_banner -nostdin -v error -y \
  -framerate 30 -i "$STILL" -filter_complex \
  "[0:v]scale=$PW:$PH:force_original_aspect_ratio=increase,crop=$PW:$PH,setsar=1,format=yuv420p,loop=loop=$((FRAMES-1)):size=1,setpts=N/30/TB,crop=1920:1080:x='2*n':y='2*n':exact=1[v]" \
  -map '[v]' "${ENC[@]}" "$OUT/pan.mp4"
read -r P_WALL P_USR P_SYS P_MEM < "$OUT/pan.time"

# The encoder alone on the render's own finished frames: the video decoded once to raw
# frames in memory, then encoded with the same settings. No photo, filter, voice or sound
# costs anything here, so no renderer that makes these frames can be faster than this
# (the floor's still frames are measured the same way, for a like-for-like ratio).
RAW_DIR=/dev/shm
RAW_NEED_KB=$((FRAMES * 1920 * 1080 * 3 / 2 / 1024 * 2 + 65536))
[ -w "$RAW_DIR" ] && [ "$(df -Pk "$RAW_DIR" | awk 'NR==2 {print $4}')" -gt "$RAW_NEED_KB" ] || RAW_DIR=$OUT
RAW_RENDER=$(mktemp "$RAW_DIR/peakreel-bench-render.XXXXXX")
RAW_FLOOR=$(mktemp "$RAW_DIR/peakreel-bench-floor.XXXXXX")
trap 'rm -rf "$OUT" "$RAW_RENDER" "$RAW_FLOOR"' EXIT
raw_encode() { # RAW_FILE TIME_FILE
  /usr/bin/time -f "$TIMEFMT" -o "$2" ffmpeg -hide_banner -nostdin -v error -y \
    -f rawvideo -pix_fmt yuv420p -s 1920x1080 -framerate 30 -i "$1" "${ENC[@]}" "$OUT/raw.mp4"
}
ffmpeg -hide_banner -nostdin -v error -y -i "$OUT/r/bench.mp4" -map 0:v -f rawvideo -pix_fmt yuv420p "$RAW_RENDER"
ffmpeg -hide_banner -nostdin -v error -y -i "$OUT/floor.mp4" -f rawvideo -pix_fmt yuv420p "$RAW_FLOOR"
raw_encode "$RAW_RENDER" "$OUT/raw_render.time"
raw_encode "$RAW_FLOOR" "$OUT/raw_floor.time"
rm -f "$RAW_RENDER" "$RAW_FLOOR"
read -r E_WALL E_USR E_SYS _ < "$OUT/raw_render.time"
read -r G_WALL G_USR G_SYS _ < "$OUT/raw_floor.time"

awk -v rw="$R_WALL" -v ru="$R_USR" -v rs="$R_SYS" -v rm="$R_MEM" \
    -v fw="$F_WALL" -v fu="$F_USR" -v fs="$F_SYS" -v fm="$F_MEM" \
    -v pw="$P_WALL" -v pu="$P_USR" -v ps="$P_SYS" \
    -v ew="$E_WALL" -v eu="$E_USR" -v es="$E_SYS" -v gw="$G_WALL" -v gu="$G_USR" -v gs="$G_SYS" \
    -v frames="$FRAMES" -v dur="$DUR" -v engine="$ENGINE" -v cores="$(nproc)" \
    -v stages="$STAGES" -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
  printf "render: %d frames, %.2f s of 1080p video, speech by %s, %d cores, load before %s\n", frames, dur, engine, cores, load
  printf "%-28s %8s %8s %10s\n", "", "wall s", "CPU s", "peak MB"
  printf "%-28s %8.2f %8.2f %10.0f\n", "render (whole pipeline)", rw, ru+rs, rm/1024
  printf "%-28s %8.2f %8.2f %10.0f\n", "encode floor (still)", fw, fu+fs, fm/1024
  printf "%-28s %8.2f %8.2f %10s\n", "reference (still, panned)", pw, pu+ps, "-"
  printf "ratio render/floor: wall %.2fx, CPU %.2fx   (target <= 1.15x)\n", rw/fw, (ru+rs)/(fu+fs)
  printf "ratio render/panned still: wall %.2fx, CPU %.2fx\n", rw/pw, (ru+rs)/(pu+ps)
  printf "%-28s %8.2f %8.2f %10s\n", "x264 alone: render frames", ew, eu+es, "-"
  printf "%-28s %8.2f %8.2f %10s\n", "x264 alone: floor frames", gw, gu+gs, "-"
  printf "encoder-only bound (render frames/floor frames): wall %.2fx, CPU %.2fx   (no renderer of this content beats it)\n", ew/gw, (eu+es)/(gu+gs)
  printf "render over the encode of its own frames: wall %.2fx, CPU %.2fx\n", rw/ew, (ru+rs)/(eu+es)
  printf "steps finished at (s into the render): %s\n", stages
  printf "real-time factor: %.2fx   (target <= 0.7x)\n", rw/dur
  printf "peak memory: %.0f MB   (target <= 600 MB)\n", rm/1024
}'
