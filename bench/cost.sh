#!/usr/bin/env bash
# Cost model: runs the service with the load generator and reads what it did from its own /metrics:
#   - Aws backend against bench/FakeAws, 200 B and 1 KB events, Kinesis aggregation None and Kpl, Firehose
#     records gzip (the default) and plain: Firehose records, bytes and 5 KB billing units; Kinesis records and
#     25 KB PUT payload units; the service's CPU per 1,000 requests;
#   - Local backend with --verify: the object-store requests of regrouping and of reading every sensor-day
#     back (the same regroup and read code runs over S3 in Aws mode, request for request).
# Then prices them per million events beside (a) one S3 object per event and (b) one Firehose record per
# event, and writes the table into docs/benchmarks.md between the cost markers.
#
# Then windows that fill Firehose records (Batching:FillWindow / FillRecordBytes): 300 B events with random readings
# at the reference fleet's rate on one of three nodes and at saturation, filling on (the default) and off, billed
# bytes with Firehose's 5 KB rounding per record against the compressed bytes sent.
#
#   bench/cost.sh            # about 4 minutes
#   FILL_ONLY=1 bench/cost.sh   # only the filling runs (their own section of the page)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-docs/benchmarks.md}
RESULTS=$ROOT/bench/results/cost
SENSORS=${SENSORS:-200}
DURATION=${DURATION:-10s}
SERVICE_PORT=5280
FAKE_PORT=5290
mkdir -p "$RESULTS"
PIDS=()
cleanup() { for pid in "${PIDS[@]:-}"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
log() { printf '== %s\n' "$*" >&2; }

for project in src/IngestService src/IngestService.LoadGen bench/FakeAws bench/GzipLevels; do
  dotnet build "$project" -c Release -v q -nologo | grep -E " error " || true
done
# Gzip ratio and CPU per level on envelopes with random readings (the load generator's 'x' padding flatters gzip).
dotnet "$ROOT/bench/GzipLevels/bin/Release/net10.0/GzipLevels.dll" > "$RESULTS/gzip-levels.txt"
SERVICE_DLL=$ROOT/src/IngestService/bin/Release/net10.0/IngestService.dll
LOADGEN_DLL=$ROOT/src/IngestService.LoadGen/bin/Release/net10.0/IngestService.LoadGen.dll
FAKE_DLL=$ROOT/bench/FakeAws/bin/Release/net10.0/FakeAws.dll

wait_healthy() {
  for _ in $(seq 1 60); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
    sleep 0.5
  done
  log "nothing answered on port $1"; return 1
}

dotnet "$FAKE_DLL" --urls "http://127.0.0.1:$FAKE_PORT" --latency-ms 5 > "$RESULTS/fakeaws.log" 2>&1 &
PIDS+=($!)
wait_healthy "$FAKE_PORT" || { curl -s -o /dev/null "http://127.0.0.1:$FAKE_PORT/_stats"; }

# run NAME BYTES EXTRA...: one service run; leaves the load generator's JSON and the final /metrics.
run() {
  local name=$1 bytes=$2
  shift 2
  local data; data=$(mktemp -d)
  DOTNET_ENVIRONMENT=Production dotnet "$SERVICE_DLL" --urls "http://127.0.0.1:$SERVICE_PORT" \
    --Ingest:DataPath="$data" --Regroup:Enabled=false "$@" > "$RESULTS/$name.service.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_healthy "$SERVICE_PORT"
  log "$name: $SENSORS sensors, $bytes-byte events, $DURATION"
  local verify=()
  [[ $name == local-* || $name == moto-* ]] && verify=(--verify)
  local cpu_before; cpu_before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  # shellcheck disable=SC2086 # LOADGEN_EXTRA is a list of options
  dotnet "$LOADGEN_DLL" --url "http://127.0.0.1:$SERVICE_PORT" --sensors "$SENSORS" --duration "$DURATION" \
    --event-bytes "$bytes" "${verify[@]}" ${LOADGEN_EXTRA:-} 2> "$RESULTS/$name.loadgen.err" | tail -1 > "$RESULTS/$name.json"
  # The service's user + system CPU over the load generator's run (its verify step included for local-*).
  echo "$(( $(awk '{ print $14 + $15 }' "/proc/$pid/stat") - cpu_before )) $(getconf CLK_TCK)" > "$RESULTS/$name.cpu"
  curl -s "http://127.0.0.1:$SERVICE_PORT/metrics" > "$RESULTS/$name.metrics"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

AWS=(--Ingest:Backend=Aws --Auth:AllowAnonymous=true --Aws:ServiceUrl="http://127.0.0.1:$FAKE_PORT" --Aws:Region=us-east-1
     --Aws:Bucket=bench --Aws:DeliveryStream=bench --Aws:KinesisStream=bench)
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
# aws-none / aws-kpl: Kinesis aggregation None / Kpl with the default gzip Firehose records; aws-plain: plain
# Firehose records (Aws:FirehoseCompression=None), Kinesis None, for the compression comparison.
if [[ ${FILL_ONLY:-0} != 1 ]]; then
for bytes in 200 1000; do
  run "aws-none-$bytes" "$bytes" "${AWS[@]}" --Aws:KinesisAggregation=None --Aws:FirehoseCompression=Gzip
  run "aws-plain-$bytes" "$bytes" "${AWS[@]}" --Aws:KinesisAggregation=None --Aws:FirehoseCompression=None
  run "aws-kpl-$bytes" "$bytes" "${AWS[@]}" --Aws:KinesisAggregation=Kpl --Aws:FirehoseCompression=Gzip
done
run local-200 200

# Gzip records through a real Firehose emulator: moto writes each PutRecordBatch as one raw object (the records
# concatenated, so multi-member gzip), and --verify's regroup pass must read every acknowledged event back once.
MOTO_PORT=5295
if command -v moto_server >/dev/null; then
  moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$RESULTS/moto.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 60); do curl -s -o /dev/null "http://127.0.0.1:$MOTO_PORT/" && break; sleep 0.5; done
  MOTO=(--Aws:ServiceUrl="http://127.0.0.1:$MOTO_PORT" --Aws:Region=us-east-1 --Aws:Bucket=cost --Aws:DeliveryStream=cost-raw --Aws:KinesisStream=cost-events)
  dotnet "$SERVICE_DLL" provision "${MOTO[@]}" --Provision:BufferingSeconds=0 > "$RESULTS/moto-provision.log" 2>&1
  run moto-gzip-200 200 --Ingest:Backend=Aws --Auth:AllowAnonymous=true "${MOTO[@]}" --Aws:FirehoseCompression=Gzip --Regroup:Enabled=true
else
  log "moto_server not found: no regroup run over gzip raw objects"
fi

fi

# Windows that fill records. Reference fleet: 3,000 sensors x 10,000 events a day = 347 events/s over 3 nodes, so one
# node sees 1,000 sensors each sending once every 8.64 s (about 116 events/s). Saturation: 2,000 closed-loop sensors
# that send again as soon as they are answered (more than a 100 ms window lets through). Filling off = Batching:FillWindow equal to the 100 ms window.
FILL_DURATION=${FILL_DURATION:-45s}
for mode in fill nofill; do
  extra=()
  [[ $mode == nofill ]] && extra=(--Batching:FillWindow=00:00:00.100)
  SENSORS=1000 DURATION=$FILL_DURATION LOADGEN_EXTRA="--interval 8.64s --random-readings --warmup 9s" \
    run "fill-ref-$mode" 300 "${AWS[@]}" "${extra[@]}"
  SENSORS=2000 DURATION=15s LOADGEN_EXTRA="--random-readings --warmup 3s" run "fill-sat-$mode" 300 "${AWS[@]}" "${extra[@]}"
done

FILL_ONLY=${FILL_ONLY:-0} python3 bench/cost.py "$RESULTS" "$OUT" "$SENSORS" "$DURATION"
