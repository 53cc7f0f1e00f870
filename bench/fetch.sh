#!/usr/bin/env bash
# Benchmark of the SSRF-guarded image fetcher (crates/fetch): 15 ~2 MB JPEGs
# over loopback HTTPS, 20 runs (median/p90) and 8 concurrent sets (peak RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -j2 -p peakreel-fetch --example bench_fetch "$@"
