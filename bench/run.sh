#!/usr/bin/env bash
# Ingest benchmark: the bare ceiling and the service on the Local backend (20 ms window) run side by side and are
# driven alternately by the same wrk load (throughput, CPU per request and peak RSS at 1,000 and 10,000 connections),
# with bare holding each answer for a window (the floor) and the service regrouping as well (for comparison), then the
# load generator measures ack latency at about half the measured maximum (with --verify on Local), and the Aws
# backend against FakeAws at two round-trip times (20 ms window). Writes docs/benchmarks.md.
#
#   bench/run.sh                 # the whole run, about 6 minutes
#   DURATION=5s CONNECTIONS="1000" bench/run.sh   # shorter
#
# Everything listens on 127.0.0.1 only. Ratios are what to read: the machine is shared and noisy, so
# absolute figures move between runs while ratios measured in the same run hold better. Every process (bare,
# service, wrk, load generator) runs with the same GC settings, those of deploy/Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-"1000 10000"}
LOADGEN_DURATION=${LOADGEN_DURATION:-12s}
LOADGEN_WARMUP=${LOADGEN_WARMUP:-2s}
WINDOW_MS=${WINDOW_MS:-20}
FAKE_AWS_LATENCIES=${FAKE_AWS_LATENCIES:-"20 100"}
# GC settings (DOTNET_gcServer, DOTNET_GCgen0size, ...) set in the environment apply to every .NET process here alike.
# Unrecorded wrk run per target first: tiered JIT is still compiling for several seconds after start
# (libclrjit was 13 % of the service's samples 10 s in), which would be charged to whichever row ran first.
WARMUP=${WARMUP:-5s}
OUT=${OUT:-docs/benchmarks.md}
RESULTS=$ROOT/bench/results
BARE_PORT=5181
HOLD_PORT=5182
WRITE_PORT=5184
REGROUP_PORT=5183
SERVICE_PORT=5180
FAKE_PORT=5190
mkdir -p "$RESULTS" "$(dirname "$OUT")"
ROWS=$RESULTS/rows.jsonl
: > "$ROWS"
NOTES=$RESULTS/notes.txt
: > "$NOTES"
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
note() { printf '%s\n' "$*" >> "$NOTES"; log "$*"; }

cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
fi

# 10,000 connections need as many descriptors in wrk and in the server (both inherit this shell's limit).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
log "open files limit: $(ulimit -n)"

log "building Release"
for project in src/IngestService src/IngestService.LoadGen bench/Bare bench/FakeAws; do
  dotnet build "$project" -c Release -v q -nologo | grep -E " error |rror\(s\)" | grep -v " 0 Error" || true
done
# SERVICE_DLL points at another build of the service (a copy of main's bin/Release, say) to measure before and after.
SERVICE_DLL=${SERVICE_DLL:-$ROOT/src/IngestService/bin/Release/net10.0/IngestService.dll}
LOADGEN_DLL=$ROOT/src/IngestService.LoadGen/bin/Release/net10.0/IngestService.LoadGen.dll
BARE_DLL=$ROOT/bench/Bare/bin/Release/net10.0/Bare.dll
FAKE_DLL=$ROOT/bench/FakeAws/bin/Release/net10.0/FakeAws.dll

# start NAME PORT LOG COMMAND...: runs COMMAND in the background and waits for /healthz; sets STARTED_PID.
start() {
  local name=$1 port=$2 logfile=$3
  shift 3
  "$@" > "$logfile" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 1 60); do
    if ! kill -0 "$STARTED_PID" 2>/dev/null; then
      log "$name exited during start-up (see $logfile)"
      return 1
    fi
    if curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; then
      return 0
    fi
    sleep 0.5
  done
  log "$name did not answer /healthz within 30 s"
  kill "$STARTED_PID" 2>/dev/null || true
  return 1
}

stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# CPU time (user + system) of PID in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# VmRSS of PID every 250 ms, one line per sample appended to FILE in kB (appending: a kill mid-write
# must not leave an empty file); peak_kb reads the largest.
sample_rss() {
  local pid=$1 file=$2
  while kill -0 "$pid" 2>/dev/null; do
    kb "$pid" VmRSS >> "$file"
    sleep 0.25
  done
}

peak_kb() { sort -n "$1" | tail -1; }

warm_up() {
  log "warm-up: wrk at 1000 connections for $WARMUP (not recorded)"
  SENSORS=1000 SENSOR_PREFIX="warmup" wrk -t"$(nproc)" -c1000 -d"$WARMUP" --timeout 10s -s "$ROOT/bench/post.lua" "http://127.0.0.1:$1" > /dev/null 2>&1 || true
}

# run_wrk TARGET PID PORT CONNECTIONS: one wrk run, appends a row.
run_wrk() {
  local target=$1 pid=$2 port=$3 connections=$4
  local raw=$RESULTS/wrk-$target-$connections.txt rssfile=$RESULTS/rss-$target-$connections
  echo 0 > "$rssfile"
  sample_rss "$pid" "$rssfile" &
  local sampler=$!
  local cpu_before
  cpu_before=$(cpu_ticks "$pid")
  log "wrk $target at $connections connections for $DURATION"
  SENSORS=$connections SENSOR_PREFIX="wrk-$target-$connections" /usr/bin/time -f "%U %S" -o "$raw.cpu" \
    wrk -t"$(nproc)" -c"$connections" -d"$DURATION" --timeout 10s -s "$ROOT/bench/post.lua" "http://127.0.0.1:$port" > "$raw" 2>&1 || true
  local cpu_after
  cpu_after=$(cpu_ticks "$pid")
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  python3 - "$target" "$connections" "$raw" "$(peak_kb "$rssfile")" "$(kb "$pid" VmHWM)" "$((cpu_after - cpu_before))" "$(getconf CLK_TCK)" >> "$ROWS" <<'PY'
import json, re, sys
target, connections, raw, rss, hwm, ticks, hz = sys.argv[1:8]
text = open(raw).read()
try:
    client_cpu = sum(float(x) for x in open(raw + ".cpu").read().split()[-2:])
except (OSError, ValueError):
    client_cpu = None
m = re.search(r"^WRK (\{.*\})$", text, re.M)
row = {"kind": "wrk", "target": target, "connections": int(connections), "rssMb": int(rss or 0) / 1024, "hwmMb": int(hwm or 0) / 1024}
if m:
    w = json.loads(m.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    row.update(cpuMsPerKiloRequest=int(ticks) / int(hz) * 1e6 / max(1, w["requests"]), targetCpuSeconds=int(ticks) / int(hz), clientCpuSeconds=client_cpu)
    row.update(requests=w["requests"], rps=w["requests"] / w["seconds"], p50=w["p50"], p99=w["p99"],
               errors=w["connect"] + w["read"] + w["write"] + w["timeout"], non2xx=int(non2xx.group(1)) if non2xx else 0)
else:
    row.update(error=text.strip()[-300:])
print(json.dumps(row))
PY
}

# run_loadgen TARGET PID PORT SENSORS VERIFY: one load-generator run, appends a row.
run_loadgen() {
  local target=$1 pid=$2 port=$3 sensors=$4 verify=$5
  local out=$RESULTS/loadgen-$target.json err=$RESULTS/loadgen-$target.err rssfile=$RESULTS/rss-$target-loadgen
  echo 0 > "$rssfile"
  sample_rss "$pid" "$rssfile" &
  local sampler=$!
  log "load generator on $target: $sensors sensors for $LOADGEN_DURATION ${verify:+with --verify}"
  local code=0
  local cpu_before; cpu_before=$(cpu_ticks "$pid")
  /usr/bin/time -f "%U %S" -o "$out.cpu" \
    dotnet "$LOADGEN_DLL" --url "http://127.0.0.1:$port" --sensors "$sensors" --duration "$LOADGEN_DURATION" --warmup "$LOADGEN_WARMUP" $verify > "$out" 2> "$err" || code=$?
  local target_ticks=$(( $(cpu_ticks "$pid") - cpu_before ))
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  python3 - "$target" "$sensors" "$out" "$err" "$code" "$(peak_kb "$rssfile")" "$target_ticks" "$(getconf CLK_TCK)" "${WINDOW:-0}" "${RTT:-0}" >> "$ROWS" <<'PY'
import json, sys
target, sensors, out, err, code, rss, ticks, hz, window, rtt = sys.argv[1:11]
lines = [l for l in open(out).read().splitlines() if l.strip()]
row = {"kind": "loadgen", "target": target, "sensors": int(sensors), "exit": int(code), "rssMb": int(rss or 0) / 1024,
       "targetCpuSeconds": int(ticks) / int(hz), "windowMs": int(window), "rttMs": int(rtt)}
try:
    row["clientCpuSeconds"] = sum(float(x) for x in open(out + ".cpu").read().split()[-2:])
except (OSError, ValueError):
    pass
if lines:
    row["report"] = json.loads(lines[-1])
errors = [l for l in open(err).read().splitlines() if l.startswith(("error", "warning"))]
if errors:
    row["stderr"] = " / ".join(errors)[:400]
print(json.dumps(row))
PY
}

# Sensors that make the closed-loop load generator offer about half of the wrk maximum: each sensor
# completes one event per (window + a few ms of processing).
half_load_sensors() {
  local target=$1 window_ms=$2
  python3 - "$ROWS" "$target" "$window_ms" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
target, window = sys.argv[2], float(sys.argv[3])
rps = max([r.get("rps", 0) for r in rows if r["target"] == target and r["kind"] == "wrk" and r["connections"] == 1000] or [0])
print(max(10, min(5000, int(0.5 * rps * (window + 5) / 1000))))
PY
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- bare and the service on the Local backend, side by side, wrk alternating between them ------------
local_target=local-${WINDOW_MS}ms
hold_target=bare-hold-${WINDOW_MS}ms
write_target=bare-write-${WINDOW_MS}ms
regroup_target=$local_target-regroup
data=$(mktemp -d /tmp/ingest-bench-XXXXXX)
bare_pid=""
hold_pid=""
write_pid=""
local_pid=""
regroup_pid=""
if start bare $BARE_PORT "$RESULTS/bare.log" dotnet "$BARE_DLL" --urls "http://127.0.0.1:$BARE_PORT"; then
  bare_pid=$STARTED_PID
  warm_up $BARE_PORT
else
  note "bare: did not start; no ceiling this run"
fi
# The floor: bare holding every answer until a shared timer ticks once a window (no event kept, nothing written).
if start "$hold_target" $HOLD_PORT "$RESULTS/$hold_target.log" dotnet "$BARE_DLL" --urls "http://127.0.0.1:$HOLD_PORT" \
    --Hold="$(printf '00:00:00.%03d' "$WINDOW_MS")"; then
  hold_pid=$STARTED_PID
  warm_up $HOLD_PORT
else
  note "$hold_target: did not start; no floor this run"
fi
# The floor of a durable acknowledgement: the same, each tick first writing its requests' bodies to one file with
# fsync as the Local backend does (no envelope, no batcher, no sink).
mkdir -p "$data/bare-write"
if start "$write_target" $WRITE_PORT "$RESULTS/$write_target.log" dotnet "$BARE_DLL" --urls "http://127.0.0.1:$WRITE_PORT" \
    --Hold="$(printf '00:00:00.%03d' "$WINDOW_MS")" --Write="$data/bare-write"; then
  write_pid=$STARTED_PID
  warm_up $WRITE_PORT
else
  note "$write_target: did not start; no durable floor this run"
fi
# The service twice: ingest alone (Regroup:Enabled=false, as a node of an ingest-only fleet runs) for the ratios to
# bare, and as a node runs by default, regrouping in the same process what wrk wrote, to show what that adds.
window_arg=--Batching:Window="$(printf '00:00:00.%03d' "$WINDOW_MS")"
if start "$local_target" $SERVICE_PORT "$RESULTS/$local_target.log" dotnet "$SERVICE_DLL" --urls "http://127.0.0.1:$SERVICE_PORT" \
    --Ingest:Backend=Local --Ingest:DataPath="$data/ingest" "$window_arg" --Regroup:Enabled=false --Serilog:MinimumLevel:Default=Warning; then
  local_pid=$STARTED_PID
  warm_up $SERVICE_PORT
else
  note "$local_target: the service did not start (see bench/results/$local_target.log)"
fi
if start "$regroup_target" $REGROUP_PORT "$RESULTS/$regroup_target.log" dotnet "$SERVICE_DLL" --urls "http://127.0.0.1:$REGROUP_PORT" \
    --Ingest:Backend=Local --Ingest:DataPath="$data/regroup" "$window_arg" --Serilog:MinimumLevel:Default=Warning; then
  regroup_pid=$STARTED_PID
  warm_up $REGROUP_PORT
else
  note "$regroup_target: the service did not start (see bench/results/$regroup_target.log)"
fi
for c in $CONNECTIONS; do
  [[ -n $bare_pid ]] && run_wrk bare "$bare_pid" $BARE_PORT "$c"
  [[ -n $hold_pid ]] && run_wrk "$hold_target" "$hold_pid" $HOLD_PORT "$c"
  [[ -n $write_pid ]] && run_wrk "$write_target" "$write_pid" $WRITE_PORT "$c"
  [[ -n $local_pid ]] && run_wrk "$local_target" "$local_pid" $SERVICE_PORT "$c"
  [[ -n $regroup_pid ]] && run_wrk "$regroup_target" "$regroup_pid" $REGROUP_PORT "$c"
done
[[ -n $hold_pid ]] && stop "$hold_pid"
[[ -n $write_pid ]] && stop "$write_pid"
[[ -n $local_pid ]] && stop "$local_pid"
if [[ -n $bare_pid ]]; then
  run_loadgen bare "$bare_pid" $BARE_PORT 100 ""
  stop "$bare_pid"
fi
# --verify reads every event back, so this runs on the node that regroups.
if [[ -n $regroup_pid ]]; then
  WINDOW=$WINDOW_MS run_loadgen "$regroup_target" "$regroup_pid" $REGROUP_PORT "$(half_load_sensors "$local_target" "$WINDOW_MS")" --verify
  stop "$regroup_pid"
fi
rm -rf "$data"

# --- the service on the Aws backend against FakeAws, one round-trip time at a time ------------------------
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
for rtt in $FAKE_AWS_LATENCIES; do
  target=aws-${WINDOW_MS}ms-rtt${rtt}
  if ! start fake-aws $FAKE_PORT "$RESULTS/fake-aws-$rtt.log" dotnet "$FAKE_DLL" --urls "http://127.0.0.1:$FAKE_PORT" --latency-ms "$rtt"; then
    note "$target: skipped: FakeAws did not start"
    continue
  fi
  fake=$STARTED_PID
  if start "$target" $SERVICE_PORT "$RESULTS/$target.log" dotnet "$SERVICE_DLL" \
      --urls "http://127.0.0.1:$SERVICE_PORT" --Ingest:Backend=Aws --Aws:ServiceUrl="http://127.0.0.1:$FAKE_PORT" \
      --Aws:Region=us-east-1 --Aws:Bucket=bench --Aws:DeliveryStream=bench --Aws:KinesisStream=bench \
      --Batching:Window="$(printf '00:00:00.%03d' "$WINDOW_MS")" \
      --Auth:AllowAnonymous=true --Regroup:Enabled=false --Serilog:MinimumLevel:Default=Warning; then
    pid=$STARTED_PID
    # A build without the Aws sinks may start and acknowledge without sending anything: prove delivery.
    curl -s -o /dev/null -H 'Content-Type: application/json' \
      -d "{\"ts\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"seq\":0}" "http://127.0.0.1:$SERVICE_PORT/v1/sensors/bench-probe/events" || true
    if curl -s "http://127.0.0.1:$FAKE_PORT/_stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["firehoseRecords"] > 0 else 1)'; then
      warm_up $SERVICE_PORT
      run_wrk "$target" "$pid" $SERVICE_PORT 1000
      WINDOW=$WINDOW_MS RTT=$rtt run_loadgen "$target" "$pid" $SERVICE_PORT "$(half_load_sensors "$target" "$((WINDOW_MS + rtt))")" ""
      note "$target: FakeAws answered every call after ${rtt} ms; it saw $(curl -s "http://127.0.0.1:$FAKE_PORT/_stats")"
    else
      note "$target: skipped: the service started with Ingest:Backend=Aws but sent nothing to FakeAws"
    fi
    stop "$pid"
  else
    note "$target: skipped: the service did not start with Ingest:Backend=Aws (see bench/results/$target.log)"
  fi
  stop "$fake"
done

# --- report --------------------------------------------------------------------------------------
CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
python3 - "$ROWS" "$NOTES" "$OUT" "$DURATION" "$LOADGEN_DURATION" "$FAKE_AWS_LATENCIES" \
  "$(nproc)" "$(free -h | awk '/^Mem:/ { print $2 " total, " $7 " available" }')" "$CPU" \
  "$(uname -r)" "$(dotnet --version)" "$(wrk -v 2>&1 | head -1)" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$LOADGEN_WARMUP" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" "$WARMUP" \
  "$WINDOW_MS" "$(env | grep -E '^DOTNET_(gc|GC)' | tr '\n' ' ')" <<'PY'
import json, sys
rows_file, notes_file, out, duration, lg_duration, fake_latency, nproc, mem, cpu, kernel, dotnet, wrk, date, commit, lg_warmup, load_before, load_after, warmup, window_ms, gc_env = sys.argv[1:21]
rows = [json.loads(l) for l in open(rows_file) if l.strip()]
notes = [l.strip() for l in open(notes_file) if l.strip()]
wrk_rows = [r for r in rows if r["kind"] == "wrk"]
lg_rows = [r for r in rows if r["kind"] == "loadgen"]
ceiling = {r["connections"]: r.get("rps", 0) for r in wrk_rows if r["target"] == "bare"}

def f(x, d=0):
    return "n/a" if x is None else f"{x:,.{d}f}"

lines = []
w = lines.append
w("# Ingest benchmarks")
w("")
w(f"Produced by `bench/run.sh` on {date} (commit `{commit}`). Re-run it to refresh this page.")
w("")
w("## Machine")
w("")
w(f"- CPU: {cpu}, `nproc` = {nproc} (shared with other work while this ran: read the ratios, not the absolute figures)")
w(f"- Memory (`free -h`): {mem}")
w(f"- Linux {kernel}, .NET SDK {dotnet}, {wrk}")
w(f"- wrk and the target run on the same 2 cores; everything on 127.0.0.1")
w(f"- load average (1/5/15 min) before the run {load_before}, after {load_after}: other work on the machine shows here")
w("")
w("## Throughput (wrk)")
w("")
w(f"`wrk -t{nproc} -cN -d{duration} --timeout 10s -s bench/post.lua` — one valid event per request (ts = now, increasing seq, a random sensor out of N). Each target first gets an unrecorded {warmup} wrk run (JIT tiering). CPU per 1k requests is the target process's user + system time over the run.")
w("")
w(f"Bare, `bare-hold-{window_ms}ms`, `bare-write-{window_ms}ms`, `local-{window_ms}ms` and `local-{window_ms}ms-regroup` ran side by side and wrk alternated between them at each connection count. `local-{window_ms}ms` is the service with `Regroup:Enabled=false`, the ingest path alone; `-regroup` is the same service regrouping what wrk wrote in the same process, as a node does by default (regrouping's own cost per event is in `docs/benchmarks-regroup.md`). `bare-hold` is bench/Bare with `--Hold`: it answers each request only at the next tick of one shared {window_ms} ms timer, keeping nothing and writing nothing, the least any node that answers after a window spends on holding requests. `bare-write` is the same with `--Write`: each tick first writes its requests' bodies to one new file (temporary file, fsync, rename, fsync of the folder) as the `Local` backend writes a window, the least a node whose acknowledgement means 'on disk' spends. GC settings from the environment, the same for every process: `{gc_env.strip() or 'none (.NET defaults: server GC)'}`.")
w("")
w("| target | connections | req/s | ratio to bare | p50 ms | p99 ms | socket errors | non-2xx | peak RSS MB | RSS ratio to bare | target CPU ms per 1k req | target CPU s | wrk CPU s |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
bare_rss = {r["connections"]: r.get("rssMb") for r in wrk_rows if r["target"] == "bare"}
for r in wrk_rows:
    if "rps" not in r:
        w(f"| {r['target']} | {r['connections']} | failed: {r.get('error','')[:80]} | | | | | | | | | | |")
        continue
    base = ceiling.get(r["connections"])
    ratio = f"{r['rps'] / base:.2f}" if base else "n/a"
    rss_ratio = f"{r['rssMb'] / bare_rss[r['connections']]:.2f}" if bare_rss.get(r["connections"]) else "n/a"
    w(f"| {r['target']} | {r['connections']:,} | {f(r['rps'])} | {ratio} | {f(r['p50'],1)} | {f(r['p99'],1)} | {r['errors']} | {r['non2xx']} | {f(r['rssMb'])} | {rss_ratio} | {f(r['cpuMsPerKiloRequest'])} | {f(r.get('targetCpuSeconds'),1)} | {f(r.get('clientCpuSeconds'),1)} |")
w("")
w("## Acknowledgement latency (load generator)")
w("")
w(f"`dotnet src/IngestService.LoadGen/bin/Release/net10.0/IngestService.LoadGen.dll --url http://127.0.0.1:PORT --sensors N --duration {lg_duration} --warmup {lg_warmup} [--verify]` — closed loop: each sensor has one event in flight, so N is chosen to offer about half of the wrk maximum at 1,000 connections (N ≈ ½ × req/s × (window + 5 ms)).")
w("")
w("| target | sensors | events/s | share of wrk max | p50 ms | p99 ms | p99.9 ms | statuses | verify | exit | peak RSS MB | target CPU s | load generator CPU s |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |")
for r in lg_rows:
    rep = r.get("report")
    if not rep:
        w(f"| {r['target']} | {r['sensors']} | failed: {r.get('stderr','')} | | | | | | | {r['exit']} | | | |")
        continue
    peak = max([x.get("rps", 0) for x in wrk_rows if x["target"] == r["target"] and x["connections"] == 1000] or [0])
    share = f"{rep['eventsPerSecond'] / peak:.2f}" if peak else "n/a"
    statuses = ", ".join(f"{k}: {v:,}" for k, v in rep["statuses"].items())
    v = rep.get("verify")
    if v:
        verify = f"missing {v['missing']}, dupes {v['duplicates']}, out of order {v['outOfOrder']}"
    elif r["target"] != "bare" and r.get("stderr") and "verification" in r["stderr"]:
        verify = "could not run: " + r["stderr"].split("error: verification could not run: ")[-1][:90]
    else:
        verify = "not asked"
    w(f"| {r['target']} | {r['sensors']:,} | {f(rep['eventsPerSecond'])} | {share} | {f(rep['p50Ms'],1)} | {f(rep['p99Ms'],1)} | {f(rep['p999Ms'],1)} | {statuses} | {verify} | {r['exit']} | {f(r['rssMb'])} | {f(r.get('targetCpuSeconds'),1)} | {f(r.get('clientCpuSeconds'),1)} |")
w("")
w("## Against the targets")
w("")
w("| target | measured | met? |")
w("| --- | --- | --- |")
local = f"local-{window_ms}ms"
hold = {r["connections"]: r for r in wrk_rows if r["target"] == f"bare-hold-{window_ms}ms" and "rps" in r}
durable = {r["connections"]: r for r in wrk_rows if r["target"] == f"bare-write-{window_ms}ms" and "rps" in r}
bare_cpu = {r["connections"]: r.get("cpuMsPerKiloRequest") for r in wrk_rows if r["target"] == "bare"}
row_of = lambda target, c: next((x for x in wrk_rows if x["target"] == target and x["connections"] == c and "rps" in x), None)
for c in sorted({r["connections"] for r in wrk_rows}):
    r, g = row_of(local, c), row_of(f"{local}-regroup", c)
    if r and ceiling.get(c):
        ratio = r["rps"] / ceiling[c]
        floor = f"; bare holding {hold[c]['rps'] / ceiling[c]:.2f} ×" if c in hold else ""
        w(f"| {local}: throughput ≥ 0.8 × bare at {c:,} connections | {ratio:.2f} × ({f(r['rps'])} vs {f(ceiling[c])} req/s), non-2xx {r['non2xx']}{floor} | {'yes' if ratio >= 0.8 and r['non2xx'] == 0 else 'no'} |")
    if r and bare_cpu.get(c):
        ratio = r["cpuMsPerKiloRequest"] / bare_cpu[c]
        floor = f"; bare holding {hold[c]['cpuMsPerKiloRequest'] / bare_cpu[c]:.2f} ×, the service {r['cpuMsPerKiloRequest'] / hold[c]['cpuMsPerKiloRequest']:.2f} × bare holding" if c in hold else ""
        floor += f"; bare holding and writing {durable[c]['cpuMsPerKiloRequest'] / bare_cpu[c]:.2f} ×, the service {r['cpuMsPerKiloRequest'] / durable[c]['cpuMsPerKiloRequest']:.2f} × that" if c in durable else ""
        w(f"| {local}: CPU per request ≤ 1.25 × bare at {c:,} connections | {ratio:.2f} × ({f(r['cpuMsPerKiloRequest'], 1)} vs {f(bare_cpu[c], 1)} ms per 1k){floor} | {'yes' if ratio <= 1.25 else 'no'} |")
    if g and bare_cpu.get(c):
        w(f"| {local}-regroup (regrouping in the same process, for comparison): CPU per request at {c:,} connections | {g['cpuMsPerKiloRequest'] / bare_cpu[c]:.2f} × bare ({f(g['cpuMsPerKiloRequest'], 1)} ms per 1k), throughput {g['rps'] / ceiling[c]:.2f} × | – |")
r10k = row_of(local, 10000)
if r10k and bare_rss.get(10000):
    ratio = r10k["rssMb"] / bare_rss[10000]
    floor = f"; bare holding {hold[10000]['rssMb'] / bare_rss[10000]:.2f} ×" if 10000 in hold else ""
    w(f"| {local}: peak RSS ≤ 1.2 × bare at 10,000 connections | {ratio:.2f} × ({f(r10k['rssMb'])} vs {f(bare_rss[10000])} MB, VmRSS sampled every 250 ms){floor} | {'yes' if ratio <= 1.2 else 'no'} |")
for lg in lg_rows:
    if lg["target"] == "bare" or not lg.get("report"):
        continue
    limit = lg["windowMs"] + lg["rttMs"] + 25
    p99 = lg["report"]["p99Ms"]
    w(f"| {lg['target']}: ack p99 ≤ window + RTT + 25 ms = {limit} ms at about half load | {p99:.1f} ms (p50 {lg['report']['p50Ms']:.1f}, p99.9 {lg['report']['p999Ms']:.1f}) at {f(lg['report']['eventsPerSecond'])} events/s | {'yes' if p99 <= limit else 'no'} |")
w("")
w("Why the throughput and memory targets are not met, what the profiles showed and what was changed: `docs/performance.md`.")
w("")
if notes:
    w("## Notes from this run")
    w("")
    for n in notes:
        w(f"- {n}")
    w("")
w("## Commands")
w("")
w("```")
w("bench/run.sh                                   # builds Release, runs every target, writes this page")
w("DURATION=5s CONNECTIONS=1000 bench/run.sh      # shorter")
w(f"# targets: bench/Bare (ceiling: same JSON check, answers at once), bench/Bare --Hold=00:00:00.{int(window_ms):03d} (the floor of holding), the same with --Write=DIR (holding and writing), the service with")
w(f"#   --Ingest:Backend=Local --Batching:Window=00:00:00.{int(window_ms):03d} with --Regroup:Enabled=false and without, and")
w(f"#   --Ingest:Backend=Aws --Aws:ServiceUrl=http://127.0.0.1:5190 --Batching:Window=00:00:00.{int(window_ms):03d} against bench/FakeAws --latency-ms each of {fake_latency}")
w("```")
w("")
w("Raw wrk and load-generator output of the last run is in `bench/results/` (not committed).")
page = "\n".join(lines) + "\n"
# The cost model (bench/cost.sh) and the store's per-day figures (bench/fleetday.sh) follow on the same page:
# keep them rather than write over what this script does not measure.
try:
    old = open(out).read()
    page += "\n" + old[min(i for i in (old.find("<!-- fill:begin -->"), old.find("<!-- cost:begin -->")) if i >= 0):]
except (OSError, ValueError):
    pass
open(out, "w").write(page)
print("\n".join(lines))
PY

# The cost model reads the service's own counters from short runs of its own; it adds its section to the page.
if [[ ${SKIP_COST:-0} != 1 ]]; then
  OUT=$OUT bench/cost.sh
fi
