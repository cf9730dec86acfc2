#!/usr/bin/env bash
# Issue 12's acceptance run on the Local backend: --Regroup:Interval=00:00:01 --Regroup:Freshness=00:00:10, the
# load generator's 150 sensors for 90 s with --verify, and bench/freshness-probe.py sampling ack-to-readable
# time meanwhile (one probe event every 2 s, polled until its sensor-day holds it). Then the service's own
# counters: sensor-day writes per sensor-day. docs/regroup.md records a run.
#   bench/freshness.sh [sensors] [duration]       (defaults: 150 90s)
set -euo pipefail
cd "$(dirname "$0")/.."
SENSORS=${1:-150}
DURATION=${2:-90s}
PORT=${BENCH_PORT:-5093}
WORK=$(mktemp -d /tmp/freshness-bench-XXXXXX)
SERVICE_PID=""
cleanup() {
  if [[ -n "$SERVICE_PID" ]]; then kill "$SERVICE_PID" 2>/dev/null || true; wait "$SERVICE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

dotnet build -c Release src/IngestService -v q -nologo >/dev/null
dotnet build -c Release src/IngestService.LoadGen -v q -nologo >/dev/null
dotnet src/IngestService/bin/Release/net10.0/IngestService.dll --urls "http://127.0.0.1:$PORT" --Ingest:DataPath="$WORK/data" \
  --Regroup:Interval=00:00:01 --Regroup:Freshness=00:00:10 > "$WORK/service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

seconds=${DURATION%s}
python3 bench/freshness-probe.py "http://127.0.0.1:$PORT" "$seconds" > "$WORK/probe.json" &
PROBE_PID=$!
dotnet run -c Release --no-build --project src/IngestService.LoadGen -- --url "http://127.0.0.1:$PORT" --sensors "$SENSORS" \
  --duration "$DURATION" --verify 2> "$WORK/loadgen.err" | tail -1
wait "$PROBE_PID"
cat "$WORK/probe.json"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^(regroup_sensor_days_written|regroup_write_conflicts|regroup_passes|ingest_store_requests)' || true
echo "{\"sensorDays\":$(find "$WORK/data/sensors" -name '*.ndjson.gz' | wc -l)}"
