#!/usr/bin/env bash
# Read-path throughput: GET /v1/tasks/{id} against GET /health, 64 connections, on a
# release build with a fresh data dir. Prints requests/s, p99 and their ratio.
# Targets (issues 2 and 15): task reads >= 50 % of /health throughput, p99 < 10 ms.
#
# Usage: bench/api.sh [sqlite|postgres]...   (default: sqlite; both: `sqlite postgres`).
# `postgres` starts a throwaway PostgreSQL with its default settings (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PHOTOS=${PHOTOS:-../shared/testdata/photos}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-bench}
# PEAKREEL_BIN: an already built binary (checking this script with a debug build).
if [ -z "${PEAKREEL_BIN:-}" ]; then cargo build --release -q -j2 --bin peakreel; fi
BIN=${PEAKREEL_BIN:-$CARGO_TARGET_DIR/release/peakreel}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# A throwaway CA and a loopback HTTPS server for the files (bench/lib.sh).
. bench/lib.sh  # (the script runs from the repository root)
bench_https_server "$PHOTOS"

export SSL_CERT_FILE=$WORK/ca.pem PEAKREEL_LOG=warn
export PEAKREEL__LIMITS__RATE_PER_SECOND=1000000 PEAKREEL__LIMITS__RATE_BURST=1000000
echo "machine: $(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; uptime:$(uptime)"

bench_backend() { # sqlite|postgres
unset PEAKREEL_DATABASE_URL
export PEAKREEL_DATA_DIR=$WORK/data-$1
case $1 in
  sqlite) ;;
  postgres) bench_postgres; export PEAKREEL_DATABASE_URL=$DATABASE_URL ;;
  *) echo "unknown backend $1 (sqlite or postgres)" >&2; exit 2 ;;
esac
ACCOUNT=$("$BIN" admin account create --name bench --plan max --credits 100 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
KEY=$("$BIN" admin key create --account "$ACCOUNT" --mode live --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"$BIN" serve --listen 127.0.0.1:0 --workers 0 --allow-network 127.0.0.0/8 > "$WORK/serve-$1.out" 2>"$WORK/serve-$1.err" &
SERVER=$!
for _ in $(seq 300); do grep -q listening "$WORK/serve-$1.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(sed -n 's/.*listening on //p' "$WORK/serve-$1.out")

SCRIPT=$(python3 -c 'print(("Bright rooms and a quiet garden wait for you here. " * 8)[:280].strip())')
BODY=$(python3 - "$IMG" "$SCRIPT" <<'PY'
import json, sys
img, script = sys.argv[1], sys.argv[2]
names = ["house100_frontal.jpg", "house100_kitchen.jpg", "house100_bedroom.jpg",
         "house100_bathroom.jpg", "house101_frontal.jpg", "house101_kitchen.jpg"]
print(json.dumps({"images": [f"{img}/{n}" for n in names],
                  "voice": {"voice_id": "EXAVITQu4vr4xnSDxMaL"}, "script": script}))
PY
)
TASK=$(curl -sf -X POST "$BASE/v1/real-estate/narrated-slideshow" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["task_id"])')

H=$(run health "$BASE/health")
(sleep 2; perf record -F 999 -g -p $SERVER -o /tmp/perf-$1.data -- sleep 6 >/dev/null 2>&1) & T=$(run task "$BASE/v1/tasks/$TASK" "Authorization: Bearer $KEY"); wait
python3 - "$H" "$T" <<'PY'
import sys
def ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit) and not (unit == "s" and v.endswith(("ms", "us"))):
            return float(v[: -len(unit)]) * f
    return float(v)
rows = [a.split() for a in sys.argv[1:]]
for name, rps, p99, bad in rows:
    print(f"{name:>7}: {float(rps):10.0f} req/s   p99 {ms(p99):6.2f} ms   non-2xx {bad}")
ratio = float(rows[1][1]) / float(rows[0][1])
print(f"  ratio: task reads = {ratio:.0%} of /health (target >= 50%), task p99 {ms(rows[1][2]):.2f} ms (target < 10 ms)")
PY
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
}

run() { # name url [header]
  local out
  if [ $# -eq 3 ]; then out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$3" "$2")
  else out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$2"); fi
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local non2xx
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$1 $rps $p99 ${non2xx:-0}"
}

for backend in "${@:-sqlite}"; do
  echo "== $backend"
  bench_backend "$backend"
done
