#!/usr/bin/env python3
"""The sensor-day store's S3 request bill per day at the reference fleet (3,000 sensors x 10,000 events a day x
300 B), from bench/fleetday.sh's JSON lines on stdin, beside the Firehose bill for the same data.

Sensor-day requests scale with sensors: each merge of a sensor-day is one GET and one PUT, so the measured PUTs
per sensor-day x 3,000. Everything else (done markers, raw GETs, listings, lease, cursor, watermark) follows from
raw batches and looks, which the fleet day has as many of as the reference fleet (one Firehose object a minute,
one look a minute): taken as measured over the day's 1,440 looks.
  bench/fleetday.sh > fleetday.jsonl && python3 bench/store-cost.py < fleetday.jsonl"""
import json, sys

PUT_LIST, GET = 0.005 / 1000, 0.0004 / 1000            # S3 us-east-1, $ per request (AWS-NOTES.md)
FIREHOSE_PER_GB = 0.029
SENSORS, EVENTS_PER_DAY = 3000, 3000 * 10_000
# Gzip Firehose records: target 0.07 GB billed per million 200 B events (~310 B stored lines); 300 B events make
# ~410 B lines, so about 0.0926 GB per million at the same compression.
FIREHOSE_GB_PER_MILLION = 0.07 * 410 / 310

runs = [json.loads(line) for line in sys.stdin if line.startswith('{"command":"fleetday"')]
firehose = EVENTS_PER_DAY / 1e6 * FIREHOSE_GB_PER_MILLION * FIREHOSE_PER_GB
print(f"Firehose at the reference fleet: {EVENTS_PER_DAY / 1e6 * FIREHOSE_GB_PER_MILLION:.2f} GB billed a day, ${firehose:.4f} a day")
print()
print("| freshness | nodes | sensor-day PUT per sensor-day | PUT a day | GET a day | LIST a day | S3 request $ a day | ÷ Firehose $ | write amplification |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
one_node = {}
for run in runs:
    day, w = run["day"], run["day"]["sensorDayPuts"] / run["sensors"]
    put = w * SENSORS + day["put"] - day["sensorDayPuts"]
    get = w * SENSORS + day["get"] - day["sensorDayPuts"]
    lst = day["list"]
    dollars = (put + lst) * PUT_LIST + get * GET
    print(f"| {run['freshness']} | {run['nodes']} | {w:.2f} | {put:,.0f} | {get:,.0f} | {lst:,.0f} | {dollars:.4f} | {dollars / firehose:.2f} | {run['writeAmplification']:.2f} |")
    total = run["put"] + run["get"] + run["list"] + run["head"]
    if run["nodes"] == 1:
        one_node[run["freshness"]] = total
    elif run["freshness"] in one_node:
        print(f"|  | {run['nodes']} nodes ÷ 1 node, all requests of the run | {total / one_node[run['freshness']]:.3f} | | | | | | |")
