#!/usr/bin/env bash
# Freshness on the Local backend with its defaults (a pass every 2 s): the load generator's 150 sensors for 90 s
# with --verify, and bench/freshness-probe.py sampling ack-to-readable time meanwhile (one probe event every 2 s,
# polled until its sensor-day holds it). Then the service's own counters: runs, compactions, sealed sensor-days and
# store requests. docs/regroup.md records a run.
#   bench/freshness.sh [sensors] [duration]       (defaults: 150 90s)
set -euo pipefail
cd "$(dirname "$0")/.."
SENSORS=${1:-150}
DURATION=${2:-90s}
PORT=${BENCH_PORT:-5093}
source bench/service.sh

dotnet build -c Release src/IngestService -v q -nologo >/dev/null
dotnet build -c Release src/IngestService.LoadGen -v q -nologo >/dev/null
start_service "$WORK/data" "$PORT"

seconds=${DURATION%s}
python3 bench/freshness-probe.py "http://127.0.0.1:$PORT" "$seconds" > "$WORK/probe.json" &
PROBE_PID=$!
dotnet run -c Release --no-build --project src/IngestService.LoadGen -- --url "http://127.0.0.1:$PORT" --sensors "$SENSORS" \
  --duration "$DURATION" --verify 2> "$WORK/loadgen.err" | tail -1
wait "$PROBE_PID"
cat "$WORK/probe.json"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^(regroup_runs_written|regroup_compactions|regroup_sensor_days_written|regroup_write_conflicts|regroup_passes|ingest_store_requests)' || true
echo "{\"sensorDays\":$(find "$WORK/data/sensors" -name '*.ndjson.gz' | wc -l)}"
