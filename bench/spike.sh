#!/usr/bin/env bash
# The file-ingest spike: LOGGERS loggers each send one day of 23,000 points as NDJSON backlogs of 1,000 lines,
# end to end on the Local backend; --verify then flushes and reads every sensor-day back. Prints the load
# generator's JSON and the wall time from the first post to the last verified read.
#   bench/spike.sh [loggers] [points]       (defaults: 1000 23000; the issue's spike; about 23 M events)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGGERS=${1:-1000}
POINTS=${2:-23000}
PORT=${BENCH_PORT:-5094}
WORK=$(mktemp -d /tmp/spike-bench-XXXXXX)
SERVICE_PID=""
cleanup() {
  if [[ -n "$SERVICE_PID" ]]; then kill "$SERVICE_PID" 2>/dev/null || true; wait "$SERVICE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

dotnet build -c Release src/IngestService -v q -nologo >/dev/null
dotnet build -c Release src/IngestService.LoadGen -v q -nologo >/dev/null
dotnet src/IngestService/bin/Release/net10.0/IngestService.dll --urls "http://127.0.0.1:$PORT" --Ingest:DataPath="$WORK/data" \
  --Serilog:MinimumLevel:Default=Warning > "$WORK/service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
start=$(date +%s.%N)
dotnet run -c Release --no-build --project src/IngestService.LoadGen -- --url "http://127.0.0.1:$PORT" --sensors "$LOGGERS" \
  --events "$POINTS" --batch 1000 --ts-spread 20h --verify 2> "$WORK/loadgen.err" | tail -1
end=$(date +%s.%N)
echo "{\"loggers\":$LOGGERS,\"points\":$POINTS,\"sensorDays\":$(find "$WORK/data/sensors" -name '*.ndjson.gz' | wc -l),\"endToEndSeconds\":$(echo "$end - $start" | bc)}"
