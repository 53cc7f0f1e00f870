#!/usr/bin/env bash
# Memory under hostile but valid inputs (issue 18): 8 creations at once, each with 15
# JPEGs of about 99 megapixels (12150x8150, just under the 25 MiB body limit), served over
# loopback HTTPS by python, against a server with no workers (tasks stay queued). Prints
# the server's peak resident memory (VmHWM from /proc/PID/status) and the wall time of the
# 8 creations. Target: peak under 1 GiB.
#
# Usage: bench/memory.sh [PHOTO_DIR]   (default: ../shared/testdata/photos beside the repo)
# PEAKREEL_BIN=path skips the release build and runs that binary (e.g. a debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
PHOTOS=${1:-../shared/testdata/photos}
PARALLEL=${PARALLEL:-8}
NIMAGES=15

for tool in curl ffmpeg openssl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
if [ -n "${PEAKREEL_BIN:-}" ]; then
  BIN=$PEAKREEL_BIN
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
  cargo build --release -q -j2 --bin peakreel
  BIN=$CARGO_TARGET_DIR/release/peakreel
fi
WORK=$(mktemp -d /tmp/peakreel-memory.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

# 15 distinct 99-megapixel JPEGs: real photos upscaled, with grain so they compress like a
# sharp camera picture (about 22 MiB each).
mkdir -p "$WORK/img"
mapfile -t SRC < <(ls "$PHOTOS"/*.jpg | grep -v portrait | sort | head -n "$NIMAGES")
[ "${#SRC[@]}" -eq "$NIMAGES" ] || { echo "need $NIMAGES landscape photos in $PHOTOS" >&2; exit 1; }
for i in "${!SRC[@]}"; do
  ffmpeg -nostdin -v error -y -i "${SRC[$i]}" -vf "scale=12150:8150,noise=alls=12:allf=t" \
    -frames:v 1 -q:v 4 "$WORK/img/$i.jpg"
done
SIZES=$(stat -c %s "$WORK"/img/*.jpg | awk '{s+=$1; if ($1>m) m=$1} END {printf "%.1f MiB each on average (largest %.1f MiB)", s/NR/1048576, m/1048576}')

. bench/lib.sh  # (the script runs from the repository root)
bench_https_server "$WORK/img"

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

python3 - "$IMG" "$NIMAGES" > "$WORK/body.json" <<'PY'
import json, sys
img, n = sys.argv[1], int(sys.argv[2])
script = ("Bright rooms and a quiet garden wait for you here, close to the park. " * 20)[: 45 * n].strip()
print(json.dumps({"images": [f"{img}/{i}.jpg" for i in range(n)],
                  "voice": {"voice_id": "EXAVITQu4vr4xnSDxMaL"}, "script": script}))
PY

echo "machine: $(nproc) cores, shared with other jobs; binary: $BIN"
echo "images: $NIMAGES x 12150x8150 JPEG, $SIZES"
echo "server VmHWM after start: $(hwm) KiB"
T0=$(date +%s.%N)
PIDS=()
for i in $(seq "$PARALLEL"); do
  curl -s -o "$WORK/par.$i.json" -w '%{http_code} %{time_total}\n' --max-time 900 \
    -X POST "$BASE/v1/real-estate/narrated-slideshow" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' --data-binary @"$WORK/body.json" > "$WORK/par.$i" &
  PIDS+=($!)
done
wait "${PIDS[@]}"
T1=$(date +%s.%N)
HWM=$(hwm)
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

cat "$WORK"/par.[0-9] "$WORK"/par.[0-9][0-9] 2>/dev/null > "$WORK/par.txt" || true
python3 - "$WORK/par.txt" "$T0" "$T1" "$HWM" <<'PY'
import sys
par_f, t0, t1, hwm = sys.argv[1:]
rows = [l.split() for l in open(par_f) if l.strip()]
codes = [r[0] for r in rows]
times = sorted(float(r[1]) for r in rows)
print(f"{len(rows)} creations at once: {float(t1) - float(t0):.1f} s wall, each "
      f"{times[0]:.1f}-{times[-1]:.1f} s; answers {sorted(set(codes))}")
mib = int(hwm) / 1024
print(f"server peak RSS (VmHWM): {mib:.0f} MiB (target < 1024 MiB) -> "
      f"{'OK' if mib < 1024 else 'MISSED'}")
PY
for f in "$WORK"/par.*.json; do grep -q '"task_id"' "$f" || echo "refused: $(head -c 300 "$f")"; done
echo "uptime at the end:$(uptime)"
