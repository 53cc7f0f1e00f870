#!/usr/bin/env bash
# Job-queue throughput (workers issue): a fresh SQLite file, 10,000 empty jobs, then
# 4 concurrent workers (and 1, for comparison) looping claim → complete until the queue
# is empty. Prints enqueue time, jobs/s, p50/p99 claim and complete latency, the claim's
# query plan, and fails (non-zero exit) unless every job was completed once at attempt 1.
#
# Usage: bench/queue.sh [--jobs N] [--workers 4,1]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-bench}
WORK=$(mktemp -d /tmp/peakreel-queue-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export TMPDIR=$WORK # the example's database files go here and are removed on exit

echo "machine: $(nproc) cores, shared with other builds; uptime:$(uptime)"
cargo run --quiet --release -j2 -p peakreel-store --example queue_bench -- "$@"
echo "after: uptime:$(uptime)"
