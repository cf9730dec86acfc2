#!/usr/bin/env bash
# Soak: one node on the Local backend (default 100 ms window, background regrouping every minute) under
# half the benchmark's maximum load for DURATION, with the load generator's --verify at the end. The node's
# resident memory and pending events are sampled every SAMPLE_SECONDS. Writes bench/results/soak.md (summary
# and samples, ready for docs/reliability.md) and bench/results/soak-samples.csv.
#
#   bench/soak.sh                        # 30 minutes, 326 sensors
#   DURATION=3m bench/soak.sh            # a short run
#
# SENSORS: the load generator is closed-loop (one event in flight per sensor), so the offered rate is about
# SENSORS / (window + a few ms). docs/benchmarks.md measured 6,219 req/s for the 100 ms window at 1,000
# connections; half of it is about 3,100 events/s, i.e. 326 sensors (same rule as bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-30m}
SENSORS=${SENSORS:-326}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
PORT=${PORT:-5280}
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
DATA=$(mktemp -d /tmp/ingest-soak.XXXXXX)
SAMPLES=$RESULTS/soak-samples.csv
REPORT=$RESULTS/soak.md
NODE_PID=""
LOADGEN_PID=""

log() { printf '== %s\n' "$*" >&2; }

cleanup() {
  [[ -n "$LOADGEN_PID" ]] && kill "$LOADGEN_PID" 2>/dev/null || true
  [[ -n "$NODE_PID" ]] && kill "$NODE_PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

log "building Release"
for project in src/IngestService src/IngestService.LoadGen; do
  dotnet build "$project" -c Release -v q -nologo | grep -E " error |rror\(s\)" | grep -v " 0 Error" || true
done
SERVICE_DLL=$ROOT/src/IngestService/bin/Release/net10.0/IngestService.dll
LOADGEN_DLL=$ROOT/src/IngestService.LoadGen/bin/Release/net10.0/IngestService.LoadGen.dll

log "starting the node on 127.0.0.1:$PORT (data in $DATA)"
DOTNET_ENVIRONMENT=Production Serilog__MinimumLevel__Default=Warning \
  dotnet "$SERVICE_DLL" --urls "http://127.0.0.1:$PORT" --Ingest:Backend=Local --Ingest:DataPath="$DATA" \
  --Regroup:Enabled=true --Regroup:Interval=00:01:00 --Regroup:Freshness=00:01:00 > "$RESULTS/soak-node.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 120); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 "$NODE_PID" 2>/dev/null || { log "the node exited (see $RESULTS/soak-node.log)"; exit 1; }
  sleep 0.5
done

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# metric NAME < scrape: the sum of NAME over its label sets.
metric() { awk -v name="$1" '$1 == name || index($1, name "{") == 1 { sum += $NF } END { printf "%d", sum }'; }

log "load: $SENSORS sensors for $DURATION, then --verify"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
dotnet "$LOADGEN_DLL" --url "http://127.0.0.1:$PORT" --sensors "$SENSORS" --duration "$DURATION" --verify \
  > "$RESULTS/soak-loadgen.out" 2> "$RESULTS/soak-loadgen.err" &
LOADGEN_PID=$!

echo "seconds,rss_mb,pending_events,pending_bytes,accepted_total" > "$SAMPLES"
t0=$(date +%s)
while kill -0 "$LOADGEN_PID" 2>/dev/null; do
  now=$(( $(date +%s) - t0 ))
  # One scrape per sample, so the pending events and bytes belong to the same moment.
  scrape=$(curl -sf "http://127.0.0.1:$PORT/metrics" || true)
  echo "$now,$(rss_mb "$NODE_PID"),$(metric ingest_pending_events <<< "$scrape"),$(metric ingest_pending_bytes <<< "$scrape"),$(metric ingest_events_accepted_total <<< "$scrape")" >> "$SAMPLES"
  sleep "$SAMPLE_SECONDS"
done
set +e
wait "$LOADGEN_PID"
exit_code=$?
set -e
LOADGEN_PID=""
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
report=$(tail -n 1 "$RESULTS/soak-loadgen.out")
log "load generator exit $exit_code: $report"

python3 - "$SAMPLES" "$REPORT" "$report" "$exit_code" "$DURATION" "$SENSORS" "$started" "$load_before" "$load_after" "$(git rev-parse --short HEAD)" <<'PY'
import csv, json, sys
samples_path, report_path, line, exit_code, duration, sensors, started, load_before, load_after, commit = sys.argv[1:]
rows = [r for r in csv.DictReader(open(samples_path))]
r = json.loads(line) if line.startswith("{") else {}
v = r.get("verify") or {}
rss = [float(x["rss_mb"]) for x in rows if float(x["rss_mb"]) > 0]
pending = [int(x["pending_events"]) for x in rows]
n = len(rss)
first = rss[: max(1, n // 5)]
last = rss[-max(1, n // 5):]
out = []
out.append(f"`DURATION={duration} SENSORS={sensors} bench/soak.sh` — started {started}, commit `{commit}`, load average before {load_before}, after {load_after}.")
out.append("")
out.append("| sensors | duration | acknowledged | events/s | p99 ms | statuses | missing | duplicated | out of order | exit | RSS MB min / max | RSS MB mean of first fifth → last fifth | pending events max |")
out.append("| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | --- | ---: |")
statuses = ", ".join(f"{k}: {v2:,}" for k, v2 in (r.get("statuses") or {}).items())
mean = lambda xs: sum(xs) / len(xs) if xs else 0
out.append(f"| {sensors} | {duration} | {r.get('acked', 0):,} | {r.get('eventsPerSecond', 0):,} | {r.get('p99Ms', 0)} | {statuses} | {v.get('missing', 'n/a')} | {v.get('duplicates', 'n/a')} | {v.get('outOfOrder', 'n/a')} | {exit_code} | {min(rss, default=0):.0f} / {max(rss, default=0):.0f} | {mean(first):.0f} → {mean(last):.0f} | {max(pending, default=0)} |")
out.append("")
out.append("Samples (every 10 s: seconds since start, RSS MB, pending events, pending bytes, events acknowledged so far):")
out.append("")
out.append("```")
out.append("seconds rss_mb pending_events pending_bytes accepted_total")
for x in rows:
    out.append(f"{x['seconds']:>7} {x['rss_mb']:>6} {x['pending_events']:>14} {x['pending_bytes']:>13} {x['accepted_total']:>14}")
out.append("```")
open(report_path, "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
exit "$exit_code"
