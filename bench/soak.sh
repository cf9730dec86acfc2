#!/usr/bin/env bash
# Soak (issue 22, item 8): three nodes behind haproxy for DURATION, on the Local backend (one shared
# Ingest:DataPath) or on the Aws backend (one moto_server this script starts). Throughout the run:
#   - the load generator with --verify sends through haproxy and resends on any answer but 2xx and on
#     connection errors, as a sensor does;
#   - a node is SIGKILLed every KILL_EVERY and started again RESTART_AFTER later on the same port;
#   - every node regroups in the background (Regroup:Enabled=true, the default);
#   - every SAMPLE_SECONDS: RSS and open descriptors per node, regroup lag and progress from the nodes'
#     /metrics, and haproxy's 2xx/5xx answer counts.
# At the end the load generator flushes and reads every sensor-day back (acknowledged, missing, duplicated,
# out of order) through node1, which is never killed (--verify-url): a flush of a large backlog can outlast
# haproxy's server timeout, and on a slow moto haproxy can find no node ready at that moment. Writes bench/results/soak-<backend>.md (a markdown section for docs/reliability.md),
# bench/results/soak-<backend>.csv (the samples), and the logs under bench/results/soak-<backend>/.
#
#   BACKEND=Local bench/soak.sh                          # the measurement: 30 minutes, a kill every 5 minutes
#   BACKEND=Aws bench/soak.sh
#   DURATION=3m KILL_EVERY=1m BACKEND=Local bench/soak.sh   # a short validation run
#   DURATION=45m BACKEND=Aws bench/soak.sh                # the last 20 minutes after a longer warm-up
#
# Needs haproxy (installed with apt-get when missing) and, for Aws, moto_server (moto 5.2.1 with its server
# extra, as the integration tests). This is a benchmark, not a CI test; the exit code is the load generator's
# (non-zero when --verify found a missing, duplicated or out-of-order event).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BACKEND=${BACKEND:-Local}
DURATION=${DURATION:-30m}
KILL_EVERY=${KILL_EVERY:-5m}
RESTART_AFTER=${RESTART_AFTER:-3}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
SENSORS=${SENSORS:-100}
# Which nodes the kills rotate over. Node 1 is left alone by default so that one process lives through the
# whole run: its RSS and descriptor series is the one that can show a slow leak (a restarted node starts
# from nothing, which would hide one). Nodes 2 and 3 take turns, so kills still hit a node that may hold
# the regroup lease after a failover.
KILL_NODES=${KILL_NODES:-"2 3"}
NODES=3

case $BACKEND in
  Local | Aws) ;;
  *) echo "BACKEND must be Local or Aws, not '$BACKEND'" >&2; exit 2 ;;
esac

RESULTS=$ROOT/bench/results
LOGS=$RESULTS/soak-${BACKEND,,}
SAMPLES=$RESULTS/soak-${BACKEND,,}.csv
EVENTS=$LOGS/events.csv
REPORT=$RESULTS/soak-${BACKEND,,}.md
mkdir -p "$RESULTS"
rm -rf "$LOGS"
mkdir -p "$LOGS"

# service.sh gives the scratch folder $WORK (data, haproxy config, pid files) and an EXIT trap. Its
# start_service runs one node with one log and one PID; here there are three nodes that come and go, so
# nodes are started by start_node below and cleanup is redefined to stop everything this script started.
# shellcheck source=bench/service.sh
source "$ROOT/bench/service.sh"

LOADGEN_PID=""
HAPROXY_PID=""
MOTO_PID=""
RESTARTER_PID=""

log() { printf '== [%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cleanup() {
  local pid
  # The restarter first, so it cannot start a node after the nodes were stopped.
  for pid in "$RESTARTER_PID" "$LOADGEN_PID"; do
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  done
  for i in $(seq 1 $NODES); do
    pid=$(cat "$WORK/node$i.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "$HAPROXY_PID" "$MOTO_PID"; do
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# seconds_of 30m|90s|1h|120: whole-number durations in the load generator's notation, in seconds.
seconds_of() {
  local v=$1
  case $v in
    *ms) echo $(( ${v%ms} / 1000 )) ;;
    *s) echo "${v%s}" ;;
    *m) echo $(( ${v%m} * 60 )) ;;
    *h) echo $(( ${v%h} * 3600 )) ;;
    *) echo "$v" ;;
  esac
}

# A free loopback port (the kernel picks one; it stays free in practice until we bind it moments later).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

DURATION_S=$(seconds_of "$DURATION")
KILL_EVERY_S=$(seconds_of "$KILL_EVERY")

# --- tools and binaries -----------------------------------------------------------------------------------

# Debian puts haproxy in /usr/sbin, which is not on every user's PATH.
HAPROXY=$(command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null || true)
if [[ -z $HAPROXY ]]; then
  log "installing haproxy"
  apt-get update -qq >/dev/null && apt-get install -y -qq haproxy >/dev/null
  HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
fi
if [[ $BACKEND == Aws ]] && ! command -v moto_server >/dev/null; then
  echo "BACKEND=Aws needs moto_server on PATH: pip install 'moto[server]==5.2.1'" >&2
  exit 1
fi

# The build the nodes run: the commit checked out now, and whether the tree had changes (the report is written at
# the end, when another commit may be checked out).
BUILT_FROM="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' with changes in src/')"
log "building Release"
for project in src/IngestService src/IngestService.LoadGen; do
  dotnet build "$project" -c Release -v q -nologo | grep -E " error |rror\(s\)" | grep -v " 0 Error" || true
done
SERVICE_DLL=$ROOT/src/IngestService/bin/Release/net10.0/IngestService.dll
LOADGEN_DLL=$ROOT/src/IngestService.LoadGen/bin/Release/net10.0/IngestService.LoadGen.dll

# --- moto (Aws only) --------------------------------------------------------------------------------------

MOTO_PORT=""
BUCKET=ingest-soak
DELIVERY_STREAM=ingest-soak-raw
KINESIS_STREAM=ingest-soak-events

# moto runs without IAM checks, as in the reliability suite (OpenMotoFixture) and unlike the integration suite:
# with INITIAL_NO_AUTH_ACTION_COUNT set, moto 5.2.1 rejects the signature of every S3 ListObjectsV2 whose
# prefix holds a slash (getmoto/moto#5948), which is the listing every regroup pass sends, so a soak with
# regrouping could not run. The variable is removed from moto's environment so an inherited one cannot turn
# IAM on; the nodes still sign every call.
start_moto() {
  MOTO_PORT=$(free_port)
  log "starting moto_server on 127.0.0.1:$MOTO_PORT"
  env -u INITIAL_NO_AUTH_ACTION_COUNT moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$LOGS/moto.log" 2>&1 &
  MOTO_PID=$!
  # A TCP probe rather than an HTTP call, like MotoFixture: nothing is sent that moto would count as an action.
  for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null && return 0
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.2
  done
  log "moto_server did not listen (see $LOGS/moto.log)"
  return 1
}

# The bucket and both streams, made by the service's own provision command as an operator would.
provision() {
  log "provisioning $BUCKET, $DELIVERY_STREAM, $KINESIS_STREAM"
  dotnet "$SERVICE_DLL" provision --Aws:ServiceUrl="http://127.0.0.1:$MOTO_PORT" --Aws:Region=us-east-1 \
    --Aws:Bucket=$BUCKET --Aws:DeliveryStream=$DELIVERY_STREAM --Aws:KinesisStream=$KINESIS_STREAM \
    --Provision:BufferingSeconds=0 > "$LOGS/provision.log" 2>&1 || { cat "$LOGS/provision.log" >&2; return 1; }
}

# --- nodes ------------------------------------------------------------------------------------------------

NODE_PORTS=()

# The settings every node gets, as environment variables (Section__Key), so one list serves every start.
node_environment() {
  echo DOTNET_ENVIRONMENT=Production Serilog__MinimumLevel__Default=Warning
  if [[ $BACKEND == Local ]]; then
    # One folder shared by the three nodes: the Local backend's store, with its locks and regroup lease.
    echo Ingest__Backend=Local "Ingest__DataPath=$WORK/data"
  else
    echo Ingest__Backend=Aws "Aws__ServiceUrl=http://127.0.0.1:$MOTO_PORT" Aws__Region=us-east-1 \
      Aws__Bucket=$BUCKET Aws__DeliveryStream=$DELIVERY_STREAM Aws__KinesisStream=$KINESIS_STREAM Auth__AllowAnonymous=true
    # The Aws defaults (a pass a minute; a 10-minute lease) would leave regrouping stalled for 10 minutes after the
    # lease holder is killed. These make it work throughout, without the 2 s interval that saturated moto in the
    # node-loss scenario (docs/reliability.md).
    echo Regroup__Interval=00:00:10 Regroup__LeaseDuration=00:00:30
  fi
}

# What the report says about the nodes' configuration: what differs from the defaults, in words.
node_settings_summary() {
  if [[ $BACKEND == Local ]]; then
    echo "\`Ingest:Backend=Local\`, one \`Ingest:DataPath\` for the three; the Local defaults: 100 ms window, \`Regroup:Interval\` 2 s, \`Regroup:LeaseDuration\` 10 s"
  else
    echo "\`Ingest:Backend=Aws\` against one moto_server without IAM checks; 100 ms window, \`Regroup:Interval\` 10 s, \`Regroup:LeaseDuration\` 30 s"
  fi
}

# start_node I: starts node I on its port in the background, appending to its log; its PID goes to a file
# because the restarter (a subshell) starts nodes too.
start_node() {
  local i=$1
  # shellcheck disable=SC2046  # one word per setting
  env $(node_environment) ASPNETCORE_URLS="http://127.0.0.1:${NODE_PORTS[$i]}" \
    dotnet "$SERVICE_DLL" >> "$LOGS/node$i.log" 2>&1 &
  echo $! > "$WORK/node$i.pid"
  # Killing it is the point: no "Killed" job notice from bash on stderr (cleanup stops it by its PID file).
  disown $!
}

node_pid() { cat "$WORK/node$1.pid" 2>/dev/null || true; }

wait_healthy() {
  local i=$1
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null "http://127.0.0.1:${NODE_PORTS[$i]}/healthz" && return 0
    kill -0 "$(node_pid "$i")" 2>/dev/null || { log "node$i exited during start-up (see $LOGS/node$i.log)"; return 1; }
    sleep 0.5
  done
  log "node$i did not answer /healthz within 120 s"
  return 1
}

# event NAME NODE: one line of the run's timeline (kills, restarts), in seconds since the load started.
event() { echo "$(( $(date +%s) - T0 )),$1,node$2,$(node_pid "$2")" >> "$EVENTS"; }

# The kill schedule, run in the background beside the sampler: at every KILL_EVERY before the load ends,
# SIGKILL the next node of KILL_NODES (no drain, no flush), wait RESTART_AFTER, start it again on the same port.
restarter() {
  local victims=($KILL_NODES) k=0 at
  # Sleep in the background and wait for it, so the TERM from cleanup ends the wait at once and no sleep outlives us.
  trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM
  for (( at = KILL_EVERY_S; at < DURATION_S; at += KILL_EVERY_S )); do
    local delay=$(( T0 + at - $(date +%s) ))
    sleep $(( delay > 0 ? delay : 0 )) &
    wait $!
    local i=${victims[$(( k++ % ${#victims[@]} ))]}
    event kill "$i"
    kill -KILL "$(node_pid "$i")" 2>/dev/null || true
    sleep "$RESTART_AFTER"
    start_node "$i"
    event start "$i"
    wait_healthy "$i" && event healthy "$i"
  done
}

# --- haproxy ----------------------------------------------------------------------------------------------

HAPROXY_PORT=""
STATS_PORT=""

# The reliability suite's configuration (tests/.../Haproxy.cs): round robin, /readyz checks every 500 ms, a
# refused connection retried on another node. A request already sent to a node that dies gets 502 and the
# sensor resends it. A stats page on a second port gives the 5xx count.
start_haproxy() {
  HAPROXY_PORT=$(free_port)
  STATS_PORT=$(free_port)
  {
    cat <<EOF
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    # Longer than Batching:AckTimeout (10 s), so a sensor gets the node's own 503.
    timeout server 300s
    retries 3
    option redispatch

frontend sensors
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend nodes

frontend stats
    bind 127.0.0.1:$STATS_PORT
    stats enable
    stats uri /stats

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    timeout check 2s
    default-server inter 500ms fall 3 rise 2
EOF
    for i in $(seq 1 $NODES); do echo "    server node$i 127.0.0.1:${NODE_PORTS[$i]} check"; done
  } > "$WORK/haproxy.cfg"
  cp "$WORK/haproxy.cfg" "$LOGS/haproxy.cfg"
  "$HAPROXY" -f "$WORK/haproxy.cfg" -db > "$LOGS/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  for _ in $(seq 1 60); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HAPROXY_PORT/readyz") == 200 ]] && return 0
    sleep 0.5
  done
  log "haproxy did not route to a ready node within 30 s (see $LOGS/haproxy.log)"
  return 1
}

# --- sampling ---------------------------------------------------------------------------------------------

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true; }
# Anonymous resident memory (the GC heap and native allocations), without the code a node maps and JIT-compiles
# as it warms up: what a leak grows.
anon_mb() { awk '/^RssAnon:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# metric NAME < scrape: NAME summed over its label sets; empty when the scrape does not hold it.
metric() { awk -v name="$1" '$1 == name || index($1, name "{") == 1 { sum += $NF; seen = 1 } END { if (seen) printf "%.10g", sum }'; }

# haproxy_counts: "2xx,5xx" answered by the sensors' frontend since haproxy started (its CSV stats).
haproxy_counts() {
  curl -s "http://127.0.0.1:$STATS_PORT/stats;csv" | awk -F, '
    NR == 1 { for (c = 1; c <= NF; c++) col[$c] = c; next }
    $1 == "sensors" && $2 == "FRONTEND" { printf "%s,%s", $col["hrsp_2xx"], $col["hrsp_5xx"] }'
}

# gc_mb < scrape: "live,committed" in MB after the node's last collection: the GC heap less its free space
# (what the objects hold), and the memory the GC keeps committed (what RSS follows); "," when the scrape failed.
gc_mb() {
  local scrape heap free committed
  scrape=$(cat)
  heap=$(metric dotnet_gc_last_collection_heap_size_bytes <<< "$scrape")
  free=$(metric dotnet_gc_last_collection_heap_fragmentation_size_bytes <<< "$scrape")
  committed=$(metric dotnet_gc_last_collection_memory_committed_size_bytes <<< "$scrape")
  if [[ -n $heap && -n $committed ]]; then
    awk -v h="$heap" -v f="${free:-0}" -v c="$committed" 'BEGIN { printf "%.1f,%.1f", (h - f) / 1048576, c / 1048576 }'
  else
    echo ","
  fi
}

sample_header() {
  local h="seconds"
  for i in $(seq 1 $NODES); do h+=",node${i}_pid,node${i}_rss_mb,node${i}_fds,node${i}_anon_mb,node${i}_gc_live_mb,node${i}_gc_committed_mb"; done
  echo "$h,regroup_lag_s,regroup_pending_batches,regroup_passes,regroup_pass_failures,haproxy_2xx,haproxy_5xx"
}

# One row: per node PID, RSS and descriptors (empty while a node is down); the regroup lag is the largest
# regroup_oldest_pending_age_seconds reported (only the lease holder reports one); pending batches likewise;
# passes and failures summed over the nodes (counters restart with a node, so they are per-process figures).
sample() {
  local row=$(( $(date +%s) - T0 )) lag="" pending="" passes=0 failures=0 pid scrape v
  for i in $(seq 1 $NODES); do
    pid=$(node_pid "$i")
    if [[ -n $pid && -d /proc/$pid ]]; then
      row+=",$pid,$(rss_mb "$pid"),$(fd_count "$pid"),$(anon_mb "$pid")"
    else
      row+=",,,,"
    fi
    scrape=$(curl -sf -m 2 "http://127.0.0.1:${NODE_PORTS[$i]}/metrics" || true)
    row+=",$(gc_mb <<< "$scrape")"
    v=$(metric regroup_oldest_pending_age_seconds <<< "$scrape")
    [[ -n $v ]] && lag=$(awk -v a="$v" -v b="${lag:-0}" 'BEGIN { printf "%.1f", (a > b ? a : b) }')
    v=$(metric regroup_pending_batches <<< "$scrape")
    [[ -n $v ]] && pending=$(( ${pending:-0} > ${v%.*} ? ${pending:-0} : ${v%.*} ))
    v=$(metric regroup_passes_total <<< "$scrape"); passes=$(( passes + ${v:-0} ))
    v=$(metric regroup_pass_failures_total <<< "$scrape"); failures=$(( failures + ${v:-0} ))
  done
  echo "$row,$lag,$pending,$passes,$failures,$(haproxy_counts)" >> "$SAMPLES"
}

# --- the run ----------------------------------------------------------------------------------------------

mkdir -p "$WORK/data"
if [[ $BACKEND == Aws ]]; then
  # For provision and the nodes alike: moto without IAM accepts any key, and the metadata service is not there.
  export AWS_ACCESS_KEY_ID=soak AWS_SECRET_ACCESS_KEY=soak AWS_EC2_METADATA_DISABLED=true
  start_moto
  provision
fi
for i in $(seq 1 $NODES); do NODE_PORTS[$i]=$(free_port); done
log "starting $NODES nodes ($BACKEND) on ports ${NODE_PORTS[*]}"
# node1, never killed, starts first and takes the regroup lease before the others start: the one node that runs the
# whole soak then keeps one role throughout, so its memory over the last 20 minutes is a warm node's, not the
# warm-up of a node that took over the lease from a killed one (LEASE_FIRST=0: all at once, any node may hold it).
if [[ ${LEASE_FIRST:-1} == 1 ]]; then
  start_node 1
  wait_healthy 1
  for _ in $(seq 1 120); do
    [[ -n $(curl -sf -m 2 "http://127.0.0.1:${NODE_PORTS[1]}/metrics" | metric regroup_oldest_pending_age_seconds) ]] && break
    sleep 0.5
  done
  for i in $(seq 2 $NODES); do start_node "$i"; done
else
  for i in $(seq 1 $NODES); do start_node "$i"; done
fi
for i in $(seq 1 $NODES); do wait_healthy "$i"; done
start_haproxy

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "load: $SENSORS sensors through haproxy (127.0.0.1:$HAPROXY_PORT) for $DURATION with --verify; a kill every $KILL_EVERY"
T0=$(date +%s)
echo "seconds,event,node,pid" > "$EVENTS"
sample_header > "$SAMPLES"
dotnet "$LOADGEN_DLL" --url "http://127.0.0.1:$HAPROXY_PORT" --sensors "$SENSORS" --duration "$DURATION" --verify \
  --verify-url "http://127.0.0.1:${NODE_PORTS[1]}" \
  > "$LOGS/loadgen.out" 2> "$LOGS/loadgen.err" &
LOADGEN_PID=$!
restarter &
RESTARTER_PID=$!

# Sample until the load generator is done, its verification included (the samples after DURATION show the
# final flush and read-back).
next=0
while kill -0 "$LOADGEN_PID" 2>/dev/null; do
  if (( $(date +%s) - T0 >= next )); then
    sample
    next=$(( next + SAMPLE_SECONDS ))
  fi
  sleep 1
done
sample
set +e
wait "$LOADGEN_PID"
exit_code=$?
set -e
LOADGEN_PID=""
kill "$RESTARTER_PID" 2>/dev/null || true
RESTARTER_PID=""
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
log "load generator exit $exit_code: $(tail -n 1 "$LOGS/loadgen.out")"

# --- report -----------------------------------------------------------------------------------------------

# GC settings in the environment (DOTNET_gcServer, DOTNET_GCGen0MaxBudget, ...) reach every node: the report names them.
command="$(env | { grep -E '^DOTNET_(gc|GC)' || true; } | sort | tr '\n' ' ')BACKEND=$BACKEND DURATION=$DURATION KILL_EVERY=$KILL_EVERY SENSORS=$SENSORS bench/soak.sh"
machine="$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), nproc $(nproc), $(free -h | awk '/^Mem:/ { print $2 }') RAM, Linux $(uname -r), .NET SDK $(dotnet --version), $("$HAPROXY" -v | awk 'NR == 1 { print $1, $2, $3 }')"
[[ $BACKEND == Aws ]] && machine+=", moto $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')"

python3 - "$SAMPLES" "$EVENTS" "$LOGS/loadgen.out" "$REPORT" "$exit_code" "$command" "$started" "$machine" \
  "$load_before" "$load_after" "$BUILT_FROM" "$BACKEND" "$DURATION_S" "$SAMPLE_SECONDS" "$NODES" \
  "${SAMPLES#"$ROOT"/}" "$(node_settings_summary)" <<'PY'
import csv, json, statistics, sys
(samples_path, events_path, loadgen_out, report_path, exit_code, command, started, machine, load_before, load_after,
 commit, backend, duration_s, sample_s, nodes, samples_rel, settings) = sys.argv[1:]
duration_s, nodes = int(duration_s), int(nodes)
rows = list(csv.DictReader(open(samples_path)))
events = list(csv.DictReader(open(events_path)))
lines = [l for l in open(loadgen_out).read().splitlines() if l.startswith("{")]
r = json.loads(lines[-1]) if lines else {}
v = r.get("verify") or {}
statuses = r.get("statuses") or {}
lg_5xx = sum(n for s, n in statuses.items() if s.startswith("5"))

def num(x):
    return float(x) if x not in (None, "") else None

# Growth over the last 20 minutes of the load (the issue's window; two-thirds of a shorter run, so a 3-minute
# validation run still has one): the mean of the first sixth of that window's samples against the mean of its
# last sixth, for the process alive at the end of the load. A longer DURATION moves the window past a longer
# warm-up. A node restarted inside the window is judged from its restart on, and says so.
window_start = duration_s - min(1200, duration_s * 2 / 3)
def growth(node, field):
    key = f"node{node}_{field}"
    in_load = [x for x in rows if int(x["seconds"]) <= duration_s and num(x[key]) is not None]
    if not in_load:
        return None
    last_pid = in_load[-1][f"node{node}_pid"]
    series = [(int(x["seconds"]), num(x[key])) for x in in_load if x[f"node{node}_pid"] == last_pid]
    since = series[0][0]
    series = [(t, y) for t, y in series if t >= window_start]
    if len(series) < 2:
        return None
    k = max(1, len(series) // 6)
    first = statistics.mean(y for _, y in series[:k])
    last = statistics.mean(y for _, y in series[-k:])
    return {"first": first, "last": last, "growth": (last - first) / first * 100 if first else 0,
            "max": max(y for _, y in series), "from": max(since, series[0][0]), "to": series[-1][0],
            "restarted": since > window_start}

def f(x, d=0):
    return "n/a" if x is None else f"{x:,.{d}f}"

in_load = [x for x in rows if int(x["seconds"]) <= duration_s]
lag = [num(x["regroup_lag_s"]) for x in in_load if num(x["regroup_lag_s"]) is not None]
# Only the lease holder reports a lag: a sample without one is a moment no node held the lease (after the
# holder was killed, until its lease expired and another node took it; nothing is merged then), or one whose
# holder's scrape failed.
no_holder = [x["seconds"] for x in in_load if num(x["regroup_lag_s"]) is None]
# The last sample haproxy answered (a scrape can fail on a busy machine).
ha = [x for x in rows if x.get("haproxy_5xx")]
ha_5xx = int(ha[-1]["haproxy_5xx"]) if ha else None
ha_2xx = int(ha[-1]["haproxy_2xx"]) if ha else None
kills = [e for e in events if e["event"] == "kill"]
healthy = {}
for e in events:
    if e["event"] == "healthy":
        healthy.setdefault(e["node"], []).append(int(e["seconds"]))

out = []
w = out.append
w(f"### Soak, `{backend}`, {duration_s // 60} min {duration_s % 60} s — {started}")
w("")
w(f"`{command}` — built from `{commit}`; {machine}; load average before {load_before}, after {load_after}.")
w("")
w(f"Nodes: {settings}.")
w("")
w("| acknowledged | sent | missing | duplicated | out of order | verify exit | answers (load generator) | transport errors | 5xx (load generator / haproxy) | kills |")
w("| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |")
ans = ", ".join(f"{k}: {n:,}" for k, n in statuses.items())
w(f"| {r.get('acked', 0):,} | {r.get('sent', 0):,} | {v.get('missing', 'n/a')} | {v.get('duplicates', 'n/a')} | {v.get('outOfOrder', 'n/a')} | {exit_code} | {ans} | {r.get('transportErrors', 'n/a')} | {lg_5xx:,} / {f(ha_5xx)} | {len(kills)} |")
w("")
w(f"Kills (seconds after the load started): " + (", ".join(
    f"{e['node']} at {e['seconds']} s" + (f" (healthy again at {min(t for t in healthy.get(e['node'], []) if t >= int(e['seconds']))} s)"
                                         if any(t >= int(e['seconds']) for t in healthy.get(e['node'], [])) else " (not healthy again)")
    for e in kills) or "none") + ".")
w("")
w(f"RSS and open descriptors per node over the last {(duration_s - window_start) / 60:.0f} minutes of the load (from {window_start:.0f} s to {duration_s} s; "
  f"mean of the window's first sixth of samples → mean of its last sixth; growth must be ≤ 10 %):")
w("")
w("| node | RSS MB | RSS growth | RSS max MB | anonymous MB | anonymous growth | descriptors | descriptor growth | descriptors max | measured over |")
w("| --- | --- | ---: | ---: | --- | ---: | --- | ---: | ---: | --- |")
for n in range(1, nodes + 1):
    rg, ag, fg = growth(n, "rss_mb"), growth(n, "anon_mb"), growth(n, "fds")
    if rg is None or ag is None or fg is None:
        w(f"| node{n} | n/a | | | | | | | | too few samples |")
        continue
    span = f"{rg['from']}–{rg['to']} s" + (" (restarted in the window)" if rg["restarted"] else "")
    w(f"| node{n} | {rg['first']:.0f} → {rg['last']:.0f} | {rg['growth']:+.1f} % | {rg['max']:.0f} | {ag['first']:.0f} → {ag['last']:.0f} | {ag['growth']:+.1f} % | {fg['first']:.0f} → {fg['last']:.0f} | {fg['growth']:+.1f} % | {fg['max']:.0f} | {span} |")
w("")
w("What the GC holds over the same window (`dotnet_gc_last_collection_*` at `/metrics`): live is the heap after the last "
  "collection less its free space, what objects keep; committed is the memory the GC keeps for its heap, which RSS follows. "
  "RSS growing with committed while live stays flat is the collector's budget, not a leak.")
w("")
w("| node | GC live MB | live growth | GC committed MB | committed growth | committed max MB |")
w("| --- | --- | ---: | --- | ---: | ---: |")
for n in range(1, nodes + 1):
    lg, cg = growth(n, "gc_live_mb"), growth(n, "gc_committed_mb")
    if lg is None or cg is None:
        w(f"| node{n} | n/a | | | | |")
        continue
    w(f"| node{n} | {lg['first']:.0f} → {lg['last']:.0f} | {lg['growth']:+.1f} % | {cg['first']:.0f} → {cg['last']:.0f} | {cg['growth']:+.1f} % | {cg['max']:.0f} |")
w("")
if lag:
    w(f"Regroup lag (`regroup_oldest_pending_age_seconds` of the lease holder, every {sample_s} s during the load): "
      f"median {statistics.median(lag):.1f} s, max {max(lag):.1f} s over {len(lag)} samples; "
      + (f"no node reported one (no lease holder, or its scrape failed) at {len(no_holder)} sample{'s' if len(no_holder) != 1 else ''} ({', '.join(no_holder)} s); " if no_holder else "")
      + f"regroup pass failures (summed over live nodes at the end): {rows[-1]['regroup_pass_failures'] or 0}.")
else:
    w("Regroup lag: no node reported `regroup_oldest_pending_age_seconds` in any sample.")
w("")
w(f"haproxy answered {f(ha_2xx)} 2xx and {f(ha_5xx)} 5xx on the sensors' frontend, the final flush and read-back included. "
  f"Samples every {sample_s} s: `{samples_rel}`.")
page = "\n".join(out) + "\n"
open(report_path, "w").write(page)
print(page)
PY
exit "$exit_code"
