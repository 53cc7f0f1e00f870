# The --scale part of bench/e2e.sh (sourced by it, after $BIN, $WORK, $IMG and
# $WORK/api.json are ready): 8 tasks through 1, then 2 worker processes.
TASKS=${TASKS:-8}
bench_postgres
export PEAKREEL_DATABASE_URL=$DATABASE_URL SSL_CERT_FILE=$WORK/ca.pem PEAKREEL_LOG=info
export PEAKREEL_DATA_DIR=$WORK/data

# cpu_of PID...: seconds of CPU used by each process group PID (setsid leaders) so far,
# children that were waited for included, summed.
cpu_of() {
  python3 - "$@" <<'PY'
import os, sys
groups = {int(p) for p in sys.argv[1:]}
tick = os.sysconf("SC_CLK_TCK")
total = 0
for entry in os.listdir("/proc"):
    if not entry.isdigit():
        continue
    try:
        stat = open(f"/proc/{entry}/stat").read()
    except OSError:
        continue
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[2] is the process group; [11..14] utime, stime, cutime, cstime.
    if int(fields[2]) in groups:
        total += sum(int(f) for f in fields[11:15])
print(f"{total / tick:.1f}")
PY
}

# Create $TASKS tasks at once, poll them all every 250 ms. Prints: wall seconds, failures.
burst() {
  python3 - "$BASE" "$KEY" "$WORK/api.json" "$TASKS" <<'PY'
import http.client, json, sys, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor
base, key, body, n = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read(), int(sys.argv[4])
u = urllib.parse.urlsplit(base)
auth = {"Authorization": f"Bearer {key}"}
def call(method, path, data=None):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request(method, path, data, {**auth, "Content-Type": "application/json"})
    r = conn.getresponse(); out = r.read()
    return r.status, json.loads(out)
start = time.time()
with ThreadPoolExecutor(n) as pool:
    created = list(pool.map(lambda _: call("POST", "/v1/real-estate/narrated-slideshow", body), range(n)))
bad = [c for c in created if c[0] != 202]
if bad:
    sys.exit(f"creation failed: {bad[0]}")
open_ids = {c[1]["task_id"] for c in created}
failed = 0
while open_ids and time.time() < start + 3600:
    time.sleep(0.25)
    for task in list(open_ids):
        status, t = call("GET", f"/v1/tasks/{task}")
        if t.get("status") in ("completed", "failed"):
            open_ids.discard(task)
            failed += t["status"] != "completed"
print(f"{time.time() - start:.2f} {failed + len(open_ids)}")
PY
}

: > "$WORK/scale"
for WORKERS in 1 2; do
  rm -rf "$WORK/data"
  ACCOUNT=$("$BIN" admin account create --name "scale$WORKERS" --plan max --credits 1000 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
  KEY=$("$BIN" admin key create --account "$ACCOUNT" --mode live --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  setsid "$BIN" api --listen 127.0.0.1:0 --allow-network 127.0.0.0/8 > "$WORK/api$WORKERS.out" 2> "$WORK/api$WORKERS.err" &
  API=$!
  for _ in $(seq 300); do grep -q listening "$WORK/api$WORKERS.out" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$WORK/api$WORKERS.out" || { echo "the API did not start:" >&2; cat "$WORK/api$WORKERS.err" >&2; exit 1; }
  BASE=$(sed -n 's/.*listening on //p' "$WORK/api$WORKERS.out")
  GROUPS_=()
  for w in $(seq "$WORKERS"); do
    setsid "$BIN" worker --workers 1 --allow-network 127.0.0.0/8 > /dev/null 2> "$WORK/worker$WORKERS-$w.err" &
    GROUPS_+=($!)
  done
  sleep 2
  read -r WALL FAILED < <(burst)
  [ "$FAILED" = 0 ] || { echo "$FAILED of $TASKS tasks did not complete" >&2; tail -20 "$WORK"/worker"$WORKERS"-*.err >&2; exit 1; }
  CPU=$(cpu_of "${GROUPS_[@]}")
  API_CPU=$(cpu_of "$API")
  kill -- "${GROUPS_[@]/#/-}" "-$API" 2>/dev/null || true
  wait "${GROUPS_[@]}" "$API" 2>/dev/null || true
  echo "$WORKERS $WALL $CPU $API_CPU $(cut -d' ' -f1 /proc/loadavg)" >> "$WORK/scale"
  awk -v n="$TASKS" '{printf "%d worker process(es): %d tasks in %7.1f s wall; workers %7.1f s CPU (%.1f s per render), API %.1f s CPU; load %s\n",
      $1, n, $2, $3, $3 / n, $4, $5}' <<<"$(tail -1 "$WORK/scale")"
done
python3 - "$WORK/scale" "$TASKS" "$(nproc)" <<'PY'
import sys
rows = {int(r[0]): [float(x) for x in r[1:]] for r in (l.split() for l in open(sys.argv[1]))}
n, cores = int(sys.argv[2]), int(sys.argv[3])
wall1, cpu1 = rows[1][0], rows[1][1]
wall2, cpu2 = rows[2][0], rows[2][1]
cpu_per = (cpu1 + cpu2) / (2 * n)
print(f"speed-up of 2 worker processes over 1: {wall1 / wall2:.2f}x wall "
      f"({n / wall1 * 60:.1f} -> {n / wall2 * 60:.1f} renders/min); CPU per render {cpu_per:.1f} s")
per_machine = n / min(wall1, wall2) * 60
print(f"N machines like this one ({cores} cores), each running its best measured worker count: "
      f"about N x {per_machine:.1f} renders/min (the queue and the API are not the limit);")
print(f"from CPU alone, a machine with C dedicated cores gives at most C x {60 / cpu_per:.1f} renders/min.")
PY
