#!/usr/bin/env python3
"""Samples ack-to-readable time: every 2 s posts one event for a probe sensor, notes when the 200 came back,
then polls the event's sensor-day until the event is in it. Prints one JSON line with every latency.
Usage: bench/freshness-probe.py URL SECONDS"""
import json, sys, time, urllib.request, urllib.error
from datetime import datetime, timezone

url, seconds = sys.argv[1], float(sys.argv[2])
latencies, seq, end = [], 0, time.time() + seconds
while time.time() < end:
    seq += 1
    now = datetime.now(timezone.utc)
    body = json.dumps({"ts": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "seq": seq, "probe": True}).encode()
    request = urllib.request.Request(f"{url}/v1/sensors/freshness-probe/events", data=body, headers={"content-type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=30).read()
    except urllib.error.HTTPError:
        continue
    acked = time.time()
    day = now.strftime("%Y-%m-%d")
    while True:
        try:
            text = urllib.request.urlopen(f"{url}/v1/sensors/freshness-probe/days/{day}", timeout=30).read().decode()
            if any(json.loads(line).get("seq") == seq for line in text.splitlines() if line):
                break
        except urllib.error.HTTPError:
            pass
        time.sleep(0.1)
    latencies.append(round(time.time() - acked, 2))
    time.sleep(max(0.0, 2 - (time.time() - acked)))
print(json.dumps({"probe": "freshness", "samples": len(latencies), "maxSeconds": max(latencies), "latencies": latencies}))
