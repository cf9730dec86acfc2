#!/usr/bin/env bash
# The daily fleet export of one simulated day (RegroupBench sealday + export): FleetDay's ~300-byte events, each
# sensor one every EVERY minutes, sealed, then exported in a process of its own (its peak working set is the
# export's) with ZSTD and with Snappy; then DuckDB fleet queries over it (1 day, and 7 days made of the same day's
# parts linked under 6 more day= folders).
# Usage: bench/export.sh [sensors] [minutes-between-a-sensor's-events]      (defaults: 3000 10)
# Prints JSON lines; docs/benchmarks.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."

SENSORS=${1:-3000}
EVERY=${2:-10}
WORK=$(mktemp -d /tmp/export-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

dotnet build -c Release bench/RegroupBench -v q -nologo >/dev/null
[ -d tests/analyst/node_modules/@duckdb ] || (cd tests/analyst && npm ci --no-audit --no-fund >/dev/null)
BENCH="dotnet bench/RegroupBench/bin/Release/net10.0/RegroupBench.dll"
$BENCH sealday --data "$WORK/data" --sensors "$SENSORS" --every "$EVERY"
$BENCH export --data "$WORK/data" --compression Snappy
$BENCH export --data "$WORK/data" --compression Zstd
for day in 15 16 17 18 19 20; do
  mkdir -p "$WORK/data/analytics/day=2026-11-$day"
  for part in "$WORK"/data/analytics/day=2026-11-21/*.parquet; do
    ln -s "$part" "$WORK/data/analytics/day=2026-11-$day/$(basename "$part")"
  done
done
node bench/export-query.mjs "$WORK/data"
