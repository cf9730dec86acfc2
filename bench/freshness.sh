#!/usr/bin/env bash
# Freshness: the load generator's sensors for a while with --verify, and bench/freshness-probe.py sampling
# ack-to-readable time meanwhile (a probe event every 2 s, polled until its sensor-day holds it). Then the service's
# own counters: runs, compactions, sealed sensor-days and store requests. docs/regroup.md records a run.
#   bench/freshness.sh [sensors] [duration]                 Local with its defaults (a pass every 2 s); 150 90s
#   BACKEND=Aws [INTERVAL=00:00:10] bench/freshness.sh ...  Aws against a moto_server this script starts, the Aws
#                                                            defaults but Regroup:Interval (default 10 s here)
set -euo pipefail
cd "$(dirname "$0")/.."
SENSORS=${1:-150}
DURATION=${2:-90s}
BACKEND=${BACKEND:-Local}
INTERVAL=${INTERVAL:-00:00:10}
PORT=${BENCH_PORT:-5093}
source bench/service.sh

dotnet build -c Release src/IngestService -v q -nologo >/dev/null
dotnet build -c Release src/IngestService.LoadGen -v q -nologo >/dev/null

ARGS=()
if [[ $BACKEND == Aws ]]; then
  command -v moto_server >/dev/null || { echo "BACKEND=Aws needs moto_server on PATH: pip install 'moto[server]==5.2.1'" >&2; exit 2; }
  MOTO_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # moto without IAM checks, as bench/soak.sh explains (getmoto/moto#5948 would refuse every regroup listing).
  env -u INITIAL_NO_AUTH_ACTION_COUNT moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  trap 'cleanup; kill "$MOTO_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 150); do (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null && break; sleep 0.2; done
  export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_EC2_METADATA_DISABLED=true
  AWS=(--Aws:ServiceUrl="http://127.0.0.1:$MOTO_PORT" --Aws:Region=us-east-1 --Aws:Bucket=ingest-fresh
       --Aws:DeliveryStream=ingest-fresh-raw --Aws:KinesisStream=ingest-fresh-events)
  dotnet src/IngestService/bin/Release/net10.0/IngestService.dll provision "${AWS[@]}" --Provision:BufferingSeconds=0 > "$WORK/provision.log" 2>&1 \
    || { cat "$WORK/provision.log" >&2; exit 1; }
  ARGS=(--Ingest:Backend=Aws "${AWS[@]}" --Auth:AllowAnonymous=true --Regroup:Interval="$INTERVAL" --Serilog:MinimumLevel:Default=Warning)
fi
start_service "$WORK/data" "$PORT" "${ARGS[@]}"

seconds=${DURATION%s}
python3 bench/freshness-probe.py "http://127.0.0.1:$PORT" "$seconds" 120 > "$WORK/probe.json" &
PROBE_PID=$!
dotnet run -c Release --no-build --project src/IngestService.LoadGen -- --url "http://127.0.0.1:$PORT" --sensors "$SENSORS" \
  --duration "$DURATION" --verify 2> "$WORK/loadgen.err" | tail -1
wait "$PROBE_PID"
cat "$WORK/probe.json"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^(regroup_runs_written|regroup_compactions|regroup_sensor_days_written|regroup_write_conflicts|regroup_passes|ingest_store_requests)' || true
[[ $BACKEND == Local ]] && echo "{\"sensorDays\":$(find "$WORK/data/sensors" -name '*.ndjson.gz' | wc -l)}"
exit 0
