#!/usr/bin/env bash
# The regroup lease holder's memory over time (issue 22, item 8), without the soak's 30 minutes and three nodes: one
# node on the Local backend, which holds the lease and regroups every 2 s (the Local default), while the load
# generator's SENSORS sensors send to it for DURATION. Every 10 s it samples RSS and anonymous memory
# (/proc/PID/status) and, from dotnet-counters, the GC's committed memory, its generations after the last collection
# and the allocation rate. Prints one line a minute; the samples go to bench/results/regroup-memory.csv.
#
#   bench/regroup-memory.sh                                   # 10 minutes, 100 sensors (about 1,000 events/s)
#   DLL=/tmp/old/src/IngestService/bin/Release/net10.0/IngestService.dll bench/regroup-memory.sh   # another build
#
# A pass lists the raw batches after its floor in the hour's folder, which grows all hour: a run that crosses the
# top of an hour starts that folder again, so compare runs that stay within one hour (the script says when it did
# not). Needs dotnet-counters (installed as a global tool when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10m}
SENSORS=${SENSORS:-100}
COUNTERS=${COUNTERS:-$HOME/.dotnet/tools/dotnet-counters}
OUT=${OUT:-$ROOT/bench/results/regroup-memory.csv}

[[ -x $COUNTERS ]] || dotnet tool install -g dotnet-counters --version 10.0.750501 >/dev/null
if [[ -z ${DLL:-} ]]; then
  dotnet build src/IngestService -c Release -v q -nologo >/dev/null
  DLL=$ROOT/src/IngestService/bin/Release/net10.0/IngestService.dll
fi
dotnet build src/IngestService.LoadGen -c Release -v q -nologo >/dev/null

# shellcheck source=bench/service.sh
source "$ROOT/bench/service.sh"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVICE_DLL=$DLL DOTNET_ENVIRONMENT=Production Serilog__MinimumLevel__Default=Warning start_service "$WORK/data" "$PORT" --Ingest:Backend=Local

"$COUNTERS" collect -p "$SERVICE_PID" --format csv --refresh-interval 10 --counters System.Runtime -o "$WORK/counters.csv" > "$WORK/counters.log" 2>&1 &
COUNTERS_PID=$!
started_hour=$(date -u +%H)
dotnet src/IngestService.LoadGen/bin/Release/net10.0/IngestService.LoadGen.dll --url "http://127.0.0.1:$PORT" \
  --sensors "$SENSORS" --duration "$DURATION" > "$WORK/loadgen.out" 2>&1 &
LOADGEN_PID=$!
echo "seconds,rss_mb,anon_mb" > "$WORK/proc.csv"
start=$SECONDS
while kill -0 "$LOADGEN_PID" 2>/dev/null; do
  awk -v t=$((SECONDS - start)) '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } END { printf "%d,%.1f,%.1f\n", t, r / 1024, a / 1024 }' \
    "/proc/$SERVICE_PID/status" >> "$WORK/proc.csv"
  sleep 10
done
kill "$COUNTERS_PID" 2>/dev/null || true
wait "$COUNTERS_PID" 2>/dev/null || true
[[ -s $WORK/counters.csv ]] || { echo "dotnet-counters wrote nothing:" >&2; cat "$WORK/counters.log" >&2; exit 1; }
[[ $(date -u +%H) == "$started_hour" ]] || echo "note: this run crossed the top of an hour (see the header)" >&2

python3 - "$WORK/proc.csv" "$WORK/counters.csv" "$OUT" "$(tail -n 1 "$WORK/loadgen.out")" <<'EOF'
import csv, sys
proc_path, counters_path, out_path, loadgen = sys.argv[1:]
proc = list(csv.DictReader(open(proc_path)))
# dotnet-counters writes one row per counter and refresh; group them by refresh, in order.
names = {
    "dotnet.gc.last_collection.memory.committed_size (By)": "gc_committed_mb",
    "dotnet.gc.heap.total_allocated (By / 10 sec)": "allocated_mb_per_10s",
    "dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=gen2]": "gen2_mb",
    "dotnet.gc.last_collection.heap.fragmentation.size (By)[gc.heap.generation=gen2]": "gen2_free_mb",
    "dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=loh]": "loh_mb",
}
refreshes = {}
for row in csv.DictReader(open(counters_path)):
    if row["Counter Name"] in names:
        refreshes.setdefault(row["Timestamp"], {})[names[row["Counter Name"]]] = float(row["Mean/Increment"] or 0) / 1e6
gc = [refreshes[t] for t in sorted(refreshes)]
rows = []
for i, p in enumerate(proc):
    g = gc[min(i, len(gc) - 1)] if gc else {}
    rows.append({**p, **{k: f"{g.get(k, 0):.1f}" for k in names.values()}})
with open(out_path, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
print(f"{'s':>5} {'RSS MB':>7} {'anon MB':>8} {'GC committed':>13} {'gen2 (free)':>12} {'LOH':>5} {'alloc MB/s':>10}")
for r in rows[::6]:
    print(f"{r['seconds']:>5} {r['rss_mb']:>7} {r['anon_mb']:>8} {r['gc_committed_mb']:>13} "
          f"{r['gen2_mb'] + ' (' + r['gen2_free_mb'] + ')':>12} {r['loh_mb']:>5} {float(r['allocated_mb_per_10s']) / 10:>10.2f}")
print("load generator:", loadgen)
print("samples:", out_path)
EOF
