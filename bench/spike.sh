#!/usr/bin/env bash
# The file-ingest spike: LOGGERS loggers each send one day of 23,000 points as NDJSON backlogs of 1,000 lines,
# end to end on the Local backend; --verify then flushes and reads every sensor-day back. Prints the load
# generator's JSON, the wall time from the first post to the last verified read and the CPU seconds of both processes.
#   bench/spike.sh [loggers] [points]       (defaults: 1000 23000; the issue's spike; about 23 M events)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGGERS=${1:-1000}
POINTS=${2:-23000}
# How far back the points' ts reach from now: with 20h, part of the backlogs falls on yesterday before 20:00 UTC, a day
# due for its seal on Local; SPREAD=44h puts about half of them there.
SPREAD=${SPREAD:-20h}
PORT=${BENCH_PORT:-5094}
source bench/service.sh

dotnet build -c Release src/IngestService -v q -nologo >/dev/null
dotnet build -c Release src/IngestService.LoadGen -v q -nologo >/dev/null
start_service "$WORK/data" "$PORT" --Serilog:MinimumLevel:Default=Warning
start=$(date +%s.%N)
# The load generator shares the machine's cores with the service: its CPU is reported beside the service's.
/usr/bin/time -o "$WORK/loadgen.time" -f '%U %S' dotnet src/IngestService.LoadGen/bin/Release/net10.0/IngestService.LoadGen.dll \
  --url "http://127.0.0.1:$PORT" --sensors "$LOGGERS" --events "$POINTS" --batch 1000 --ts-spread "$SPREAD" --verify 2> "$WORK/loadgen.err" | tail -1
end=$(date +%s.%N)
ticks=$(getconf CLK_TCK)
service_cpu=$(awk -v t="$ticks" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$SERVICE_PID/stat")
loadgen_cpu=$(awk '{ printf "%.1f", $1 + $2 }' "$WORK/loadgen.time")
echo "{\"loggers\":$LOGGERS,\"points\":$POINTS,\"sensorDays\":$(find "$WORK/data/sensors" -name '*.ndjson.gz' | wc -l),\"endToEndSeconds\":$(echo "$end - $start" | bc),\"serviceCpuSeconds\":$service_cpu,\"loadGeneratorCpuSeconds\":$loadgen_cpu,\"cores\":$(nproc)}"
