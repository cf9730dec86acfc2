#!/usr/bin/env python3
"""Samples ack-to-readable time: every 2 s posts one event for a probe sensor and notes when its 200 came back; a
poller reads the probe sensor's day every 0.25 s and notes when each acknowledged event is first in it. Probes
overlap, so a backend whose reads lag by tens of seconds (Aws, a pass every Regroup:Interval) still gets a sample
every 2 s. After the posting stops, polling goes on until every probe is readable or TIMEOUT seconds pass.
Prints one JSON line: samples, p50, p99, max, unresolved and every latency.
Usage: bench/freshness-probe.py URL SECONDS [TIMEOUT]"""
import json, sys, threading, time, urllib.request, urllib.error
from datetime import datetime, timezone

url, seconds = sys.argv[1], float(sys.argv[2])
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
acked, seen, lock, posting_done = {}, {}, threading.Lock(), threading.Event()
# Every probe is today's (UTC) at posting time; a run across midnight polls both days.
days = set()


def post():
    seq, end = 0, time.time() + seconds
    while time.time() < end:
        started = time.time()
        seq += 1
        now = datetime.now(timezone.utc)
        body = json.dumps({"ts": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "seq": seq, "probe": True}).encode()
        request = urllib.request.Request(f"{url}/v1/sensors/freshness-probe/events", data=body, headers={"content-type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=30).read()
            with lock:
                acked[seq] = time.time()
                days.add(now.strftime("%Y-%m-%d"))
        except (urllib.error.HTTPError, urllib.error.URLError):
            pass
        time.sleep(max(0.0, 2 - (time.time() - started)))
    posting_done.set()


poster = threading.Thread(target=post)
poster.start()
deadline = None
while True:
    with lock:
        waiting = [s for s in acked if s not in seen]
        wanted = sorted(days)
    if posting_done.is_set():
        deadline = deadline or time.time() + timeout
        if not waiting or time.time() > deadline:
            break
    for day in wanted:
        try:
            text = urllib.request.urlopen(f"{url}/v1/sensors/freshness-probe/days/{day}", timeout=30).read().decode()
        except (urllib.error.HTTPError, urllib.error.URLError):
            continue
        now = time.time()
        for line in text.splitlines():
            if line:
                seq = json.loads(line).get("seq")
                with lock:
                    if seq in acked and seq not in seen:
                        seen[seq] = now
    time.sleep(0.25)

poster.join()
latencies = sorted(round(seen[s] - acked[s], 2) for s in seen)
def pct(p):
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else None
print(json.dumps({"probe": "freshness", "samples": len(latencies), "unresolved": len(acked) - len(seen),
                  "p50Seconds": pct(0.5), "p99Seconds": pct(0.99), "maxSeconds": latencies[-1] if latencies else None,
                  "latencies": latencies}))
