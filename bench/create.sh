#!/usr/bin/env bash
# Task creation with fetching (issue 4): POST /v1/real-estate/narrated-slideshow with 15
# photos of ~2 MB each, served over loopback HTTPS by python, on a release build with a
# fresh data dir and no workers (tasks stay queued). Every request fetches, checks and
# decodes the 15 images and stores their bytes before answering.
#   1. 20 sequential creates: median and p90 of the request time (target: median < 1 s).
#   2. 8 creates at once: wall time, and the server's peak RSS (VmHWM, target: bounded).
#
# Usage: bench/create.sh [PHOTO_DIR]   (default: ../shared/testdata/photos beside the repo)
# PEAKREEL_BIN=path skips the build and runs that binary.
set -euo pipefail
cd "$(dirname "$0")/.."
PHOTOS=${1:-../shared/testdata/photos}
RUNS=${RUNS:-20}
PARALLEL=${PARALLEL:-8}
NIMAGES=15

for tool in curl ffmpeg openssl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
if [ -n "${PEAKREEL_BIN:-}" ]; then
  BIN=$PEAKREEL_BIN
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
  cargo build --release -q --bin peakreel
  BIN=$CARGO_TARGET_DIR/release/peakreel
fi
WORK=$(mktemp -d /tmp/peakreel-create.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

# 15 distinct ~2 MB JPEGs: real photos upscaled to 2400x1600 at the highest JPEG quality,
# with a little grain so they do not compress like the smooth upscale would.
mkdir -p "$WORK/img"
mapfile -t SRC < <(ls "$PHOTOS"/*.jpg | grep -v portrait | sort | head -n "$NIMAGES")
[ "${#SRC[@]}" -eq "$NIMAGES" ] || { echo "need $NIMAGES landscape photos in $PHOTOS" >&2; exit 1; }
for i in "${!SRC[@]}"; do
  ffmpeg -nostdin -v error -y -i "${SRC[$i]}" -vf "scale=2400:1600,noise=alls=16:allf=u" \
    -qmin 1 -q:v 1 "$WORK/img/$i.jpg"
done
SIZES=$(stat -c %s "$WORK"/img/*.jpg | awk '{s+=$1; if ($1>m) m=$1} END {printf "%.2f MB each on average (largest %.2f MB), %.1f MB per request", s/NR/1e6, m/1e6, s/1e6}')

# A throwaway CA and a loopback HTTPS server for the files (bench/lib.sh).
. bench/lib.sh  # (the script runs from the repository root)
bench_https_server "$WORK/img"

# Max with room for every task at once (the default Max runs 10), no rate limit.
cat > "$WORK/bench.toml" <<'TOML'
[limits]
rate_per_second = 1000000
rate_burst = 1000000

[[plans]]
name = "Max"
api_access = true
concurrent_tasks = 1000
monthly_credits = 1500
TOML
export PEAKREEL_DATA_DIR=$WORK/data SSL_CERT_FILE=$WORK/ca.pem PEAKREEL_LOG=warn PEAKREEL_CONFIG=$WORK/bench.toml
ACCOUNT=$("$BIN" admin account create --name bench --plan max --credits 100000 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
KEY=$("$BIN" admin key create --account "$ACCOUNT" --mode live --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"$BIN" serve --listen 127.0.0.1:0 --workers 0 --allow-network 127.0.0.0/8 > "$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(sed -n 's/.*listening on //p' "$WORK/serve.out")
[ -n "$BASE" ] || { echo "the server did not start:" >&2; cat "$WORK/serve.err" >&2; exit 1; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER/status"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }

python3 - "$IMG" "$NIMAGES" > "$WORK/body.json" <<'PY'
import json, sys
img, n = sys.argv[1], int(sys.argv[2])
script = ("Bright rooms and a quiet garden wait for you here, close to the park. " * 20)[: 45 * n].strip()
print(json.dumps({"images": [f"{img}/{i}.jpg" for i in range(n)],
                  "voice": {"voice_id": "EXAVITQu4vr4xnSDxMaL"}, "script": script}))
PY
create() { # prints "http_code seconds [error code]"; $1: where to keep the body
  local out=${1:-$WORK/last.json}
  curl -s -o "$out" -w '%{http_code} %{time_total}\n' --max-time 60 \
    -X POST "$BASE/v1/real-estate/narrated-slideshow" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' --data-binary @"$WORK/body.json" | tr -d '\n'
  echo " $(sed -n 's/.*"code":"\([A-Z_]*\)".*/\1/p' "$out")"
}
# The floor: the 15 images downloaded in parallel by curl from the same python server.
floor() {
  local args=() i
  for i in $(seq 0 $((NIMAGES - 1))); do args+=(-o /dev/null "$IMG/$i.jpg"); done
  curl -s --cacert "$WORK/ca.pem" -Z --parallel-max "$NIMAGES" -w '%{time_total}\n' "${args[@]}" 2>/dev/null | sort -n | tail -1
}

echo "machine: $(nproc) cores, shared with other jobs; uptime:$(uptime)"
echo "images: $NIMAGES x 2400x1600 JPEG, $SIZES"
echo "server RSS after start: $(rss) KiB"

# Warm-up (TLS session setup, SQLite pages, allocator): not counted.
read -r code _ < <(create)
[ "$code" = 202 ] || { echo "warm-up create failed ($code): $(cat "$WORK/last.json")" >&2; exit 1; }

: > "$WORK/seq.txt"
for _ in $(seq "$RUNS"); do create >> "$WORK/seq.txt"; done
: > "$WORK/floor.txt"
for _ in $(seq 5); do floor >> "$WORK/floor.txt"; done
HWM_SEQ=$(hwm)

# Sample the resident set every 20 ms while PARALLEL creates run at once.
( peak=0; while kill -0 "$SERVER" 2>/dev/null; do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$peak" ] && { peak=$r; echo "$peak" > "$WORK/rss.peak"; }
    sleep 0.02
  done ) &
SAMPLER=$!
T0=$(date +%s.%N)
PIDS=()
for i in $(seq "$PARALLEL"); do create "$WORK/par.$i.json" > "$WORK/par.$i" & PIDS+=($!); done
wait "${PIDS[@]}"
T1=$(date +%s.%N)
sleep 0.1
kill "$SAMPLER" 2>/dev/null || true
cat "$WORK"/par.[0-9] "$WORK"/par.[0-9][0-9] 2>/dev/null > "$WORK/par.txt" || true
HWM_PAR=$(hwm)

python3 - "$WORK/seq.txt" "$WORK/par.txt" "$WORK/floor.txt" "$T0" "$T1" "$HWM_SEQ" "$HWM_PAR" "$(cat "$WORK/rss.peak" 2>/dev/null || echo 0)" "$(du -sm "$WORK/data/media" | cut -f1)" <<'PY'
import sys, statistics
seq_f, par_f, floor_f, t0, t1, hwm_seq, hwm_par, rss_peak, media_mb = sys.argv[1:]
def rows(f):
    return [l.split() for l in open(f) if l.strip()]
seq = [(r[0], float(r[1]), r[2:]) for r in rows(seq_f)]
par = [(r[0], float(r[1]), r[2:]) for r in rows(par_f)]
bad = [f"{c} {' '.join(e)}" for c, _, e in seq + par if c != "202"]
fl = statistics.median(float(r[0]) for r in rows(floor_f))
t = sorted(s for _, s, _ in seq)
p90 = t[max(0, -(-len(t) * 9 // 10) - 1)]
med = statistics.median(t)
print(f"sequential: {len(t)} creates, median {med*1000:.0f} ms, p90 {p90*1000:.0f} ms, "
      f"min {t[0]*1000:.0f} ms, max {t[-1]*1000:.0f} ms (target: median < 1000 ms) -> "
      f"{'OK' if med < 1.0 else 'MISSED'}")
print(f"floor: curl downloads the same 15 images in parallel in {fl*1000:.0f} ms (median of 5)")
pt = sorted(s for _, s, _ in par)
print(f"{len(par)} at once: all answered in {float(t1) - float(t0):.2f} s wall, "
      f"each {pt[0]:.2f}-{pt[-1]:.2f} s")
print(f"server peak RSS (VmHWM): {int(hwm_seq)/1024:.0f} MiB after the sequential run, "
      f"{int(hwm_par)/1024:.0f} MiB after {len(par)} at once (sampled VmRSS peak "
      f"{int(rss_peak)/1024:.0f} MiB); {len(par)} requests hold "
      f"{len(par)} x 15 x ~2 MB = ~{len(par)*30} MB of image bytes")
print(f"stored inputs: {media_mb} MiB in the data dir; non-202 answers: {len(bad)} {bad[:5]}")
PY
echo "uptime at the end:$(uptime)"
