#!/usr/bin/env bash
# Regroup throughput and peak memory, and sensor-day read latency through the HTTP API, on the Local backend.
# Usage: bench/regroup.sh [events] [sensors] [batches]      (defaults: 1000000 2000 1000)
# Prints one JSON line per step; docs/benchmarks-regroup.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${1:-1000000}
SENSORS=${2:-2000}
BATCHES=${3:-1000}
PORT=${BENCH_PORT:-5091}
source bench/service.sh

dotnet build -c Release bench/RegroupBench -v q -nologo >/dev/null
dotnet build -c Release src/IngestService -v q -nologo >/dev/null
HARNESS="dotnet bench/RegroupBench/bin/Release/net10.0/RegroupBench.dll"

# Regroup: many sensors, events spread over one day, 2% resent.
$HARNESS generate --data "$WORK/many" --events "$EVENTS" --sensors "$SENSORS" --batches "$BATCHES"
# /usr/bin/time reports the peak resident set of the whole process (runtime included).
/usr/bin/time -f '{"command":"time","maxRssKiB":%M,"elapsedSeconds":%e}' $HARNESS regroup --data "$WORK/many" 2>&1
# The same with a 128 MiB budget (the default is 16 MiB): more sorted in memory before spilling sorted chunks.
# Each regroup line: the pass into one run (its clock on the data's day), then the day's seal ("seal").
rm -rf "$WORK/spill"; $HARNESS generate --data "$WORK/spill" --events "$EVENTS" --sensors "$SENSORS" --batches "$BATCHES" >/dev/null
/usr/bin/time -f '{"command":"time","maxRssKiB":%M,"elapsedSeconds":%e}' $HARNESS regroup --data "$WORK/spill" --memory-mib 128 2>&1
rm -rf "$WORK/many" "$WORK/spill"

# Reads: 100 sensor-days of 10,000 events each, through the running service.
$HARNESS generate --data "$WORK/days" --events 1000000 --sensors 100 --batches 200 --resend-percent 0
$HARNESS regroup --data "$WORK/days"
start_service "$WORK/days" "$PORT" --Regroup:Enabled=false --Serilog:MinimumLevel:Default=Warning
$HARNESS read --url "http://127.0.0.1:$PORT" --sensors 100 --day 2026-11-21 --parallel 1 >/dev/null  # warm-up
$HARNESS read --url "http://127.0.0.1:$PORT" --sensors 100 --day 2026-11-21 --parallel 1
$HARNESS read --url "http://127.0.0.1:$PORT" --sensors 100 --day 2026-11-21 --parallel 8
