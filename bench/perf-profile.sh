#!/usr/bin/env bash
# Where the CPU of an acknowledgement goes, kernel included: `perf record` (cpu-clock samples, 999 Hz, call graphs)
# of bare (bench/Bare), bare holding each answer for a window (--Hold), bare holding and writing each window to disk (--Write)
# and the service (Local backend, 20 ms window, the ingest path alone), each during the same wrk load at CONNECTIONS
# after two unrecorded warm-ups. Prints CPU µs per request by category (kernel network, kernel file and page cache,
# scheduler, the service's code, ASP.NET Core and Kestrel, the runtime) and the frames that differ most from bare
# holding; keeps the perf data in bench/results/perf/ for `perf report -i`.
#
#   bench/perf-profile.sh                     # about 2 minutes
#   CONNECTIONS=10000 DURATION=8s bench/perf-profile.sh
# Needs `perf` (Debian linux-perf) and permission to record the whole machine (root, or perf_event_paranoid ≤ 0).
# The table's last rows set perf's total against the process's own CPU time from /proc over the same seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-1000}
DURATION=${DURATION:-8}
DURATION=${DURATION%s}
OUT=bench/results/perf
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
command -v perf > /dev/null || { echo "perf is not installed: apt-get install -y linux-perf" >&2; exit 2; }
for project in src/IngestService bench/Bare; do
  dotnet build "$project" -c Release -v q -nologo | grep -E " error " || true
done

# perf reads the names of JIT-compiled methods from /tmp/perf-PID.map; without W^X their code is not double-mapped,
# so the addresses in the samples are the ones in the map.
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
source bench/launch.sh
mkdir "$WORK/bare-write"
BARE=(dotnet bench/Bare/bin/Release/net10.0/Bare.dll)
launch bare 5181 "${BARE[@]}" --urls http://127.0.0.1:5181
launch bare-hold 5182 "${BARE[@]}" --urls http://127.0.0.1:5182 --Hold=00:00:00.020
launch bare-write 5184 "${BARE[@]}" --urls http://127.0.0.1:5184 --Hold=00:00:00.020 --Write="$WORK/bare-write"
launch service 5183 dotnet src/IngestService/bin/Release/net10.0/IngestService.dll --urls http://127.0.0.1:5183 --Ingest:Backend=Local \
  --Batching:Window=00:00:00.020 --Serilog:MinimumLevel:Default=Warning --Regroup:Enabled=false --Ingest:DataPath="$WORK/data"
TARGETS=(bare bare-hold bare-write service)
for round in 1 2; do
  for target in "${TARGETS[@]}"; do
    SENSORS=$CONNECTIONS SENSOR_PREFIX=warmup$round wrk -t"$(nproc)" -c"$CONNECTIONS" -d6s --timeout 10s -s bench/post.lua \
      "http://127.0.0.1:${PORT[$target]}" > /dev/null 2>&1 || true
  done
done

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $CONNECTIONS connections, ${DURATION}s each, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for target in "${TARGETS[@]}"; do
  pid=${PID[$target]}
  # The whole machine, read back for this process: `perf record -p` follows only the threads that exist when it
  # attaches, and a thread pool that grows under load (10,000 connections) left half the CPU unseen.
  ticks_before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  perf record -a -F 999 -g -o "$OUT/$target.data" -- sleep "$DURATION" > /dev/null 2>&1 &
  recorder=$!
  SENSORS=$CONNECTIONS SENSOR_PREFIX=profile wrk -t"$(nproc)" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s bench/post.lua \
    "http://127.0.0.1:${PORT[$target]}" > "$WORK/$target.wrk" 2>&1 || true
  wait "$recorder"
  echo $(( $(awk '{ print $14 + $15 }' "/proc/$pid/stat") - ticks_before )) "$(getconf CLK_TCK)" > "$OUT/$target.ticks"
  grep -oP '^WRK \K\{.*\}' "$WORK/$target.wrk" > "$OUT/$target.wrk.json"
  cp "$WORK/$target.log" "$OUT/$target.log"
  non2xx=$(grep -oP '"status":\K[0-9]+' "$OUT/$target.wrk.json")
  [[ $non2xx == 0 ]] || echo "$target: $non2xx non-2xx answers while recorded: its row is not an acknowledgement's cost (see $OUT/$target.log)" >&2
  perf report -i "$OUT/$target.data" --pid "$pid" --stdio --no-children --sort dso,sym -g none -n 2> /dev/null > "$OUT/$target.symbols"
done
python3 bench/perf-categories.py "$OUT" bare-hold "${TARGETS[@]}"
