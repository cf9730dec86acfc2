"""CPU µs per request by category and by frame, from bench/perf-profile.sh's `perf report` output and wrk counts.

    python3 bench/perf-categories.py bench/results/perf BASE TARGET...   # e.g. bare-hold bare bare-hold bare-write service

Every cpu-clock sample at 999 Hz stands for about 1.001 ms of CPU; divided by the requests wrk completed while perf
recorded, a frame's samples are its CPU per request. The frame table sets the last target against BASE.
"""
import collections
import json
import re
import sys

MS_PER_SAMPLE = 1000 / 999
LINE = re.compile(r"\s*[\d.]+%\s+(\d+)\s+(\S.*?)\s{2,}\[(.)\]\s+(.*)$")
TIER = re.compile(r"\[(Optimized|OptimizedTier1|Tier1|Tier0|QuickJitted|OSR|PreJIT|Instrumented)\]")


# The first rule whose pattern a frame's symbol matches names its category, kernel frames and JIT-compiled ones apart.
KERNEL = [
    (r"tcp|inet|ip_|skb|sock|net_|softirq|__dev|sk_|bbr|loopback|xmit|recv|send|epoll|poll", "kernel: network and epoll"),
    (r"folio|page|filemap|ext4|block|iowrite|jbd|bio|blk|deleted|fsync|writeback|mpage|lru|inode|dentry", "kernel: files and page cache"),
    (r"schedule|task_switch|yield|futex|wake|enqueue|dequeue|pick_|update_curr|rq", "kernel: scheduler and futexes"),
    (r"", "kernel: other"),
]
JIT = [
    (r"\[IngestService\]|\[Bare\]", "JIT: the endpoint's own code"),
    (r"AspNetCore|Kestrel|Pipelines", "JIT: ASP.NET Core, Kestrel, pipelines"),
    (r"OpenTelemetry|Diagnostics\.Metrics", "JIT: metrics"),
    (r"System\.Net\.Sockets", "JIT: sockets"),
    (r"", "JIT: runtime library"),
]


def category(dso, kind, symbol):
    rules = KERNEL if kind == "k" else JIT if "JIT" in dso else [(r"", f"native: {dso}")]
    return next(name for pattern, name in rules if re.search(pattern, symbol))


def load(folder, target):
    requests = json.load(open(f"{folder}/{target}.wrk.json"))["requests"]
    categories, frames = collections.Counter(), collections.Counter()
    for line in open(f"{folder}/{target}.symbols"):
        m = LINE.match(line)
        if not m:
            continue
        samples, dso, kind, symbol = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        us = samples * MS_PER_SAMPLE * 1000 / requests
        categories[category(dso, kind, symbol)] += us
        frames[re.sub(r"\(.*", "", TIER.sub("", symbol)).strip()] += us
    ticks, hz = open(f"{folder}/{target}.ticks").read().split()
    return requests, categories, frames, int(ticks) / int(hz) * 1e6 / requests


folder, base, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
data = {t: load(folder, t) for t in targets}
print()
print("| category, CPU µs per request | " + " | ".join(targets) + " |")
print("| --- |" + " ---: |" * len(targets))
names = sorted({c for t in targets for c in data[t][1]}, key=lambda c: -data[targets[-1]][1][c])
for c in names:
    print(f"| {c} | " + " | ".join(f"{data[t][1][c]:.2f}" for t in targets) + " |")
print("| **total** | " + " | ".join(f"**{sum(data[t][1].values()):.2f}**" for t in targets) + " |")
print("| the process's CPU from /proc over the same seconds | " + " | ".join(f"{data[t][3]:.2f}" for t in targets) + " |")
print("| requests while recorded | " + " | ".join(f"{data[t][0]:,}" for t in targets) + " |")
print()
last = targets[-1]
print(f"Frames where {last} spends the most more than {base}, µs per request:")
print()
print(f"| frame | {base} | {last} | difference |")
print("| --- | ---: | ---: | ---: |")
frames = data[base][2].keys() | data[last][2].keys()
for f in sorted(frames, key=lambda f: data[base][2][f] - data[last][2][f])[:25]:
    print(f"| `{f[-110:]}` | {data[base][2][f]:.3f} | {data[last][2][f]:.3f} | {data[last][2][f] - data[base][2][f]:+.3f} |")
