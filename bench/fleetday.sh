#!/usr/bin/env bash
# The sensor-day store over a simulated fleet day under a driven clock (RegroupBench fleetday): one raw batch per
# minute for 24 h, every node looking each minute, S3 requests counted at the store seam.
# Usage: bench/fleetday.sh [sensors] [events-per-sensor-per-minute]      (defaults: 1000 1)
# Runs: the Aws default freshness on one node and on three; a one-hour freshness (CPU per event, first vs last
# merge, as the day grows). Prints one JSON line per run; docs/regroup.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."

SENSORS=${1:-1000}
PER_MINUTE=${2:-1}
WORK=$(mktemp -d /tmp/fleetday-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

dotnet build -c Release bench/RegroupBench -v q -nologo >/dev/null
HARNESS="dotnet bench/RegroupBench/bin/Release/net10.0/RegroupBench.dll"

for run in "1 12:00:00" "3 12:00:00" "1 01:00:00"; do
  set -- $run
  rm -rf "$WORK/data"
  $HARNESS fleetday --data "$WORK/data" --sensors "$SENSORS" --events-per-minute "$PER_MINUTE" --nodes "$1" --freshness "$2"
done
