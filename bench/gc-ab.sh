#!/usr/bin/env bash
# A GC setting against the default, on the bare endpoint and the service alike (issue 21 item 3, issue 22 item 8):
# four processes (bare, bare with SETTING, service, service with SETTING; Local backend, 20 ms window, the ingest path
# alone: Regroup:Enabled=false) started once, each warmed up unrecorded, then wrk with bench/post.lua alternating over
# them at 1,000 and 10,000 connections, ROUNDS times. One line per wrk run: throughput, CPU ms per 1,000 requests, p50,
# peak RSS during the run.
#   bench/gc-ab.sh [SETTING]          (default DOTNET_GCGen0MaxBudget=0x1000000: server GC, gen 0 capped at 16 MiB)
#   ROUNDS=2 DURATION=8s CONNECTIONS=1000 bench/gc-ab.sh DOTNET_gcServer=0
# With BUILDS="name=path/IngestService.dll ..." it compares builds instead: bare, bare holding each answer for a
# window (bench/Bare --Hold, the floor), bare holding and writing each window's bodies to a file with fsync as the Local
# backend does (--Write, the floor of an acknowledgement that means "on disk") and each build, with no setting.
#   BUILDS="main=src/IngestService/bin/Release/net10.0/IngestService.dll try=/tmp/try/IngestService.dll" bench/gc-ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SETTING=${1:-DOTNET_GCGen0MaxBudget=0x1000000}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-1000 10000}
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
for project in src/IngestService bench/Bare; do
  dotnet build "$project" -c Release -v q -nologo | grep -E " error " || true
done

source bench/launch.sh
BARE=(dotnet bench/Bare/bin/Release/net10.0/Bare.dll)
SERVICE_ARGS=(--Ingest:Backend=Local --Batching:Window=00:00:00.020 --Serilog:MinimumLevel:Default=Warning --Regroup:Enabled=false)
SERVICE=(dotnet src/IngestService/bin/Release/net10.0/IngestService.dll "${SERVICE_ARGS[@]}")
launch bare 5181 "${BARE[@]}" --urls http://127.0.0.1:5181
if [[ -n ${BUILDS:-} ]]; then
  SETTING="none (builds: $BUILDS)"
  launch bare-hold 5182 "${BARE[@]}" --urls http://127.0.0.1:5182 --Hold=00:00:00.020
  mkdir "$WORK/bare-write"
  launch bare-write 5183 "${BARE[@]}" --urls http://127.0.0.1:5183 --Hold=00:00:00.020 --Write="$WORK/bare-write"
  TARGETS=(bare bare-hold bare-write)
  port=5190
  for build in $BUILDS; do
    port=$((port + 1))
    launch "${build%%=*}" $port dotnet "${build#*=}" "${SERVICE_ARGS[@]}" --urls "http://127.0.0.1:$port" --Ingest:DataPath="$WORK/data$port"
    TARGETS+=("${build%%=*}")
  done
else
  launch bare+setting 5182 "$SETTING" "${BARE[@]}" --urls http://127.0.0.1:5182
  launch service 5183 "${SERVICE[@]}" --urls http://127.0.0.1:5183 --Ingest:DataPath="$WORK/data1"
  launch service+setting 5184 "$SETTING" "${SERVICE[@]}" --urls http://127.0.0.1:5184 --Ingest:DataPath="$WORK/data2"
  TARGETS=(bare bare+setting service service+setting)
fi

for target in "${TARGETS[@]}"; do
  SENSORS=1000 SENSOR_PREFIX=warmup wrk -t"$(nproc)" -c1000 -d5s -s bench/post.lua "http://127.0.0.1:${PORT[$target]}" > /dev/null 2>&1 || true
done

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), setting $SETTING, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  for connections in $CONNECTIONS; do
    for target in "${TARGETS[@]}"; do
      pid=${PID[$target]}
      : > "$WORK/rss"
      ( while kill -0 "$pid" 2>/dev/null; do awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" >> "$WORK/rss"; sleep 0.25; done ) &
      sampler=$!
      before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
      SENSORS=$connections SENSOR_PREFIX="r$round-$connections" wrk -t"$(nproc)" -c"$connections" -d"$DURATION" --timeout 10s \
        -s bench/post.lua "http://127.0.0.1:${PORT[$target]}" > "$WORK/wrk.txt" 2>&1 || true
      after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
      kill "$sampler"
      wait "$sampler" 2>/dev/null || true
      python3 - "$round" "$connections" "$target" "$((after - before))" "$(getconf CLK_TCK)" "$(sort -n "$WORK/rss" | tail -1)" "$WORK/wrk.txt" <<'PY'
import json, re, sys
round_, connections, target, ticks, hz, rss, raw = sys.argv[1:]
text = open(raw).read()
w = json.loads(re.search(r"^WRK (\{.*\})$", text, re.M).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"round {round_}  {connections:>6} connections  {target:<16} {w['requests'] / w['seconds']:8,.0f} req/s  "
      f"{int(ticks) / int(hz) * 1e6 / w['requests']:5.1f} CPU ms / 1,000  p50 {w['p50']:7.1f} ms  "
      f"peak RSS {int(rss) / 1024:4.0f} MB  non-2xx {non2xx.group(1) if non2xx else 0}")
PY
    done
  done
done
