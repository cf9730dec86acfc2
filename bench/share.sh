#!/usr/bin/env bash
# Scale-out of the regroup (issue 23 item 5): the file-ingest spike's backlog once it has landed (LOGGERS logger-days
# of POINTS points each, in raw batches of one past day), regrouped and sealed by one node, then by NODES node
# processes sharing the store, on identical copies of the data, alternated ROUNDS times. Prints one JSON line per run:
# wall seconds, CPU seconds of all nodes and of the busiest node, units claimed, and requests (S3 billing units). Each
# node process first regroups 320,000 events of its own unrecorded (its JIT, as a fleet's nodes have run passes before).
#   bench/share.sh [loggers] [points] [nodes] [rounds]      (defaults: 1000 2300 3 2: 2.3 M events, a tenth of the spike)
# SEAL_RANGES (default 30) is how many sensor ranges the day's seal is published as: a multiple of 3, so three
# nodes can take even shares (10 ranges split 4 / 3 / 3); each range costs one ranged GET per run it reads.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGGERS=${1:-1000}
POINTS=${2:-2300}
NODES=${3:-3}
ROUNDS=${4:-2}
SEAL_RANGES=${SEAL_RANGES:-30}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

dotnet build -c Release bench/RegroupBench -v q -nologo >/dev/null
HARNESS="dotnet bench/RegroupBench/bin/Release/net10.0/RegroupBench.dll"
EVENTS=$((LOGGERS * POINTS))
# Units sized so each node has several: about 32 raw batches' bytes, and SEAL_RANGES seal ranges.
for round in $(seq "$ROUNDS"); do
  for nodes in 1 "$NODES"; do
    rm -rf "$WORK/data"
    $HARNESS generate --data "$WORK/data" --events "$EVENTS" --sensors "$LOGGERS" --batches $((EVENTS / 1000)) --resend-percent 2 >/dev/null
    $HARNESS share --data "$WORK/data" --nodes "$nodes" --unit-bytes $((32 * 1000 * 230)) --unit-events $((EVENTS / SEAL_RANGES))
  done
done
