#!/usr/bin/env python3
"""The sensor-day store's day at SCALE times the reference fleet (3,000 sensors x 10,000 events a day x 300 B),
stepped pass by pass with the rules of docs/regroup.md (passes, raw units, tiers and their compaction units, the
seal in sensor ranges, the lease, helpers' looks, listings): requests a day as S3 bills them, manifest commits a
second, runs live at the end of the day, and the nodes needed at the regroup CPU per event measured by
bench/fleetday.sh at the reference fleet's density (all tiers and the seal).

  python3 bench/scale-model.py [scale] [--unit-bytes B] [--unit-events E] [--nodes N] [--cpu-us US] [--vcpus V]

At scale 1 it reproduces the formula table of docs/regroup.md (bench/fleetday.sh measures that day for real)."""
import argparse, math

PUT_LIST, GET = 0.005 / 1000, 0.0004 / 1000      # S3 us-east-1, $ per request (AWS-NOTES.md)
FIREHOSE_PER_GB = 0.029

p = argparse.ArgumentParser()
p.add_argument("scale", type=float, nargs="?", default=1)
p.add_argument("--unit-bytes", type=float, default=None, help="Regroup:UnitBytes (default 64 MiB; 512 MiB above 100x)")
p.add_argument("--unit-events", type=float, default=2_000_000)
p.add_argument("--nodes", type=int, default=None, help="nodes looking (default: as many as the rate needs)")
p.add_argument("--cpu-us", type=float, default=12.5, help="regroup CPU per event, all tiers and the seal (measured 12.5 us: docs/regroup.md)")
p.add_argument("--fixed-cpu-s", type=float, default=25.3, help="regroup CPU a day that does not grow with events (per pass; measured 25.3 s)")
p.add_argument("--vcpus", type=int, default=2, help="vCPUs a node has")
p.add_argument("--fanout", type=int, default=8)
p.add_argument("--late-window-hours", type=float, default=26)
a = p.parse_args()

S = a.scale
unit_bytes = a.unit_bytes or (512 * 2**20 if S >= 100 else 64 * 2**20)
F, PASSES, LINE = a.fanout, 1440, 410                 # one-minute passes; a stored line of a 300 B event
events = 30_000_000 * S
sensors = 3000 * S
raw_bytes = events * LINE
raw_objects = max(PASSES, math.ceil(raw_bytes / (128 * 10**6)))   # Firehose: one object per buffer (1 min or 128 MB)

put = get = lst = 0
commits = 0
l0 = 0
units = {"raw": 0, "compact": 0, "seal": 0}
tiers = [0, 0, 0, 0]                                  # live runs per tier
per_pass_bytes = raw_bytes / PASSES
per_pass_objects = raw_objects / PASSES
late_keys = a.late_window_hours * raw_objects / 24
for _ in range(PASSES):
    lst += 1 + math.ceil(late_keys / 1000)            # after the floor, then the late window behind it
    get += 1 + per_pass_objects                       # the manifest, the raw batches
    n = math.ceil(per_pass_bytes / unit_bytes) if per_pass_bytes > unit_bytes else 0
    if n:
        units["raw"] += n
        put += 1 + n * 3                              # the publishing commit; per unit a claim, a run, a completion
        get += n * 2                                  # each commit reads the manifest it replaces
        commits += 1 + n * 2
        tiers[0] += n
    else:
        put += 2                                      # the run, the commit
        get += 1
        commits += 1
        tiers[0] += 1
    for level in range(3):                            # compaction: full groups of F, the first inline, the rest units
        groups = tiers[level] // F
        if groups:
            units["compact"] += groups - 1
            put += groups * 2 + 2 * (groups - 1) + (1 if groups > 1 else 0)
            get += groups * (F + 1) + 2 * (groups - 1)
            commits += groups + 2 * (groups - 1) + (1 if groups > 1 else 0)
            tiers[level] -= groups * F
            tiers[level + 1] += groups
runs_at_seal = sum(tiers)
seal_units = math.ceil(events / a.unit_events) if events > a.unit_events else 0
units["seal"] = seal_units
put += sensors + 1 + seal_units * 2                   # a PUT per sensor-day, the publishing commit, claims and completions
get += runs_at_seal * max(1, seal_units) + seal_units * 2
commits += 1 + seal_units * 2
# Compaction writes every event once per tier it climbs: L1 and L2 always, L3 for what reaches it (mostly copies).
written = events * (1 + 1 + 1 + (1 if tiers[3] else 0) + 1)   # event-writes: L0, L1, L2, L3, the seal
cpu_s = a.fixed_cpu_s + events * a.cpu_us / 1e6
nodes = a.nodes or max(1, math.ceil(cpu_s / 86_400 / a.vcpus / 0.5))   # half busy: room for spikes and failover
put += 288                                            # the lease, renewed at half its 10 minutes
get += (nodes - 1) * (PASSES / 2 + 144)               # helpers: the manifest every other look, the lease once a period
put += 24                                             # hourly orphan stamps
lst += 24
dollars = (put + lst) * PUT_LIST + get * GET
firehose = raw_bytes / 10**9 * 0.32 * FIREHOSE_PER_GB  # gzip records: about 0.32 of the line bytes billed
print(f"scale {S:g}: {events:,.0f} events, {sensors:,.0f} sensor-days, {raw_bytes / 1e12:.2f} TB of stored lines, {raw_objects:,} raw objects a day")
print(f"units a day: raw {units['raw']:,}, compact {units['compact']:,}, seal {units['seal']:,} (UnitBytes {unit_bytes / 2**20:.0f} MiB, UnitEvents {a.unit_events:,.0f})")
print(f"requests a day: {put:,.0f} PUT, {get:,.0f} GET, {lst:,.0f} LIST: S3 request ${dollars:,.2f}; Firehose ${firehose:,.2f}")
print(f"manifest commits: {commits:,.0f} a day, {commits / 86_400:.2f} a second; runs live at the day's end {runs_at_seal} (tiers {tiers})")
print(f"event-writes {written / events:.1f} per event; regroup CPU {cpu_s:,.0f} s a day ({a.cpu_us:g} us an event + {a.fixed_cpu_s:g} s): "
      f"{cpu_s / 86_400:.1f} vCPUs busy, {nodes} nodes of {a.vcpus} vCPUs half busy")
