#!/usr/bin/env bash
# Job-queue throughput, SQLite and PostgreSQL side by side in one run: a fresh database
# each (PostgreSQL: a throwaway server with its durable default settings, started by the
# example), 10,000 empty jobs, then 4 workers spread over 2 worker processes looping
# claim → complete until the queue is empty. Prints enqueue time, jobs/s, p50/p99 claim
# and complete latency, SQLite's claim query plan, and fails (non-zero exit) unless every
# job was completed once at attempt 1. Needs Debian's postgresql package
# (scripts/install-deps.sh).
#
# Usage: bench/queue.sh [--jobs N] [--workers 4[,1...]] [--processes 2] [--backends sqlite,postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-bench}
WORK=$(mktemp -d /tmp/peakreel-queue-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export TMPDIR=$WORK # the example's database files go here and are removed on exit

echo "machine: $(nproc) cores, shared with other builds; uptime:$(uptime)"
cargo run --quiet --release -j2 -p peakreel-store --example queue_bench -- "$@"
echo "after: uptime:$(uptime)"
