#!/usr/bin/env bash
# CPU per acknowledgement at one fixed offered rate, for a machine too loaded for wrk's closed loop to mean much:
# the bare endpoint and one or more builds of the service (Local backend, 20 ms window) run side by side, and the
# load generator offers each the same paced load in turn (SENSORS sensors, each one event per INTERVAL), ROUNDS
# times. Reported per run: events/s acknowledged, the target's user + system CPU per 1,000 acknowledgements, p50/p99.
#
#   bench/paced.sh                                              # bare and this checkout's Release build
#   BEFORE=/tmp/main-bin/IngestService.dll bench/paced.sh       # also another build, alternated with this one
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SENSORS=${SENSORS:-1000}
INTERVAL=${INTERVAL:-0.25s}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
WINDOW=${WINDOW:-00:00:00.020}
LOADGEN_DLL=$ROOT/src/IngestService.LoadGen/bin/Release/net10.0/IngestService.LoadGen.dll
AFTER=${AFTER:-$ROOT/src/IngestService/bin/Release/net10.0/IngestService.dll}
BARE=$ROOT/bench/Bare/bin/Release/net10.0/Bare.dll
PIDS=()
cleanup() { for pid in "${PIDS[@]:-}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "${DATA:-}"; }
trap cleanup EXIT
DATA=$(mktemp -d /tmp/paced-XXXXXX)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

start() { # NAME PORT DLL ARGS...
  local name=$1 port=$2 dll=$3; shift 3
  dotnet "$dll" --urls "http://127.0.0.1:$port" "$@" > "$DATA/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 1 60); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return 0; sleep 0.5; done
  echo "$name did not start" >&2; return 1
}

SERVICE_ARGS=(--Ingest:Backend=Local --Batching:Window="$WINDOW" --Regroup:Enabled=false --Serilog:MinimumLevel:Default=Warning)
start bare 5381 "$BARE"
start after 5382 "$AFTER" --Ingest:DataPath="$DATA/after" "${SERVICE_ARGS[@]}"
TARGETS="bare:5381 after:5382"
if [[ -n ${BEFORE:-} ]]; then
  start before 5383 "$BEFORE" --Ingest:DataPath="$DATA/before" "${SERVICE_ARGS[@]}"
  TARGETS="bare:5381 before:5383 after:5382"
fi

echo "| round | target | events/s | CPU ms per 1,000 acks | p50 ms | p99 ms | load average |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | --- |"
for round in $(seq 0 "$ROUNDS"); do
  for t in $TARGETS; do
    name=${t%%:*} port=${t##*:}
    pid_var=PID_$name
    pid=${!pid_var}
    before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    out=$(dotnet "$LOADGEN_DLL" --url "http://127.0.0.1:$port" --sensors "$SENSORS" --interval "$INTERVAL" \
      --duration "$DURATION" --warmup 2s 2>/dev/null | tail -1)
    after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    # Round 0 warms every target up (tiered JIT) and is not reported.
    [[ $round == 0 ]] && continue
    python3 - "$round" "$name" "$out" "$((after - before))" "$(getconf CLK_TCK)" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
round_, name, out, ticks, hz, load = sys.argv[1:7]
r = json.loads(out)
print(f"| {round_} | {name} | {r['eventsPerSecond']:,.0f} | {int(ticks) / int(hz) * 1e6 / max(1, r['acked']):.0f} | {r['p50Ms']:.1f} | {r['p99Ms']:.1f} | {load} |")
PY
  done
done
