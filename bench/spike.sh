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
source bench/service.sh

dotnet build -c Release src/IngestService -v q -nologo >/dev/null
dotnet build -c Release src/IngestService.LoadGen -v q -nologo >/dev/null
start_service "$WORK/data" "$PORT" --Serilog:MinimumLevel:Default=Warning
start=$(date +%s.%N)
dotnet run -c Release --no-build --project src/IngestService.LoadGen -- --url "http://127.0.0.1:$PORT" --sensors "$LOGGERS" \
  --events "$POINTS" --batch 1000 --ts-spread 20h --verify 2> "$WORK/loadgen.err" | tail -1
end=$(date +%s.%N)
echo "{\"loggers\":$LOGGERS,\"points\":$POINTS,\"sensorDays\":$(find "$WORK/data/sensors" -name '*.ndjson.gz' | wc -l),\"endToEndSeconds\":$(echo "$end - $start" | bc)}"
