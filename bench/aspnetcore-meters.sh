#!/usr/bin/env bash
# Does exporting ASP.NET Core's per-request meters (Metrics:AspNetCoreMeters=true) cost ingest throughput?
# Runs a Release node on the Local backend with a 5 ms window and drives it with wrk (bench/post.lua),
# alternating off / on ROUNDS times in one run so machine load hits both alike. Prints one line per run and
# the median requests/s of each mode. Usage: bash bench/aspnetcore-meters.sh [ROUNDS] [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=${3:-200}
PORT=5391
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

dotnet build src/IngestService -c Release -v q -nologo | grep -E " error " || true
dll=src/IngestService/bin/Release/net10.0/IngestService.dll

run() { # run MODE -> requests/s
  local mode=$1 data="$OUT/data-$RANDOM"
  ASPNETCORE_URLS=http://127.0.0.1:$PORT Ingest__DataPath="$data" Batching__Window=00:00:00.005 \
    Regroup__Enabled=false Metrics__AspNetCoreMeters=$mode Serilog__MinimumLevel__Default=Warning \
    dotnet "$dll" >"$OUT/node.log" 2>&1 &
  local pid=$!
  until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done
  # Warm-up: tiered JIT keeps compiling for a few seconds after start.
  SENSORS=$CONNECTIONS wrk -t2 -c"$CONNECTIONS" -d3s -s bench/post.lua "http://127.0.0.1:$PORT" >/dev/null
  local rps
  rps=$(SENSORS=$CONNECTIONS wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -s bench/post.lua "http://127.0.0.1:$PORT" | awk '/^Requests\/sec/ { print $2 }')
  # The meters must really be exported in the "true" runs, and not in the others.
  local exported
  exported=$(curl -sf "http://127.0.0.1:$PORT/metrics" | grep -c '^http_server_request_duration_seconds_count' || true)
  kill "$pid"; wait "$pid" || true
  rm -rf "$data"
  echo "$mode $rps exported_series=$exported"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u +%Y-%m-%dT%H:%MZ)"
results=()
for round in $(seq 1 "$ROUNDS"); do
  for mode in false true; do
    line=$(run $mode)
    echo "round $round: AspNetCoreMeters=$line"
    results+=("$line")
  done
done
printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics
runs = {}
for line in sys.stdin:
    mode, rps = line.split()[:2]
    runs.setdefault(mode, []).append(float(rps))
off, on = statistics.median(runs["false"]), statistics.median(runs["true"])
print(f"median requests/s: off {off:.0f}, on {on:.0f}, on/off {on/off:.3f}")
'
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
