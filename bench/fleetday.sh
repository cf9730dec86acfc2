#!/usr/bin/env bash
# The tiered store over a simulated fleet day under a driven clock (RegroupBench fleetday): 3,000 sensors, one raw
# batch per minute for 24 h, one pass a minute, S3 requests counted at the store seam, then the day sealed.
# Usage: bench/fleetday.sh [sensors] [minutes-between-a-sensor's-events] [nodes] [events-a-minute]   (defaults: 3000 10 1 1)
#   bench/fleetday.sh 100 1 1 7     # the reference fleet's density (10,080 events a sensor-day) with 100 sensors
# Prints one JSON line; docs/regroup.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."

SENSORS=${1:-3000}
EVERY=${2:-10}
NODES=${3:-1}
PER_MINUTE=${4:-1}
WORK=$(mktemp -d /tmp/fleetday-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

dotnet build -c Release bench/RegroupBench -v q -nologo >/dev/null
dotnet bench/RegroupBench/bin/Release/net10.0/RegroupBench.dll fleetday --data "$WORK/data" --sensors "$SENSORS" --every "$EVERY" --nodes "$NODES" --per-minute "$PER_MINUTE"
