"""Turns the counters of bench/cost.sh's runs into cost per million events; writes a section of docs/benchmarks.md."""
import json, math, re, sys, datetime, pathlib

results, out, sensors, duration = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]

# US East (N. Virginia) list prices, read from the AWS pricing pages as known on the date below; check them
# before quoting. Firehose Direct PUT ingestion per GB billed (each record rounded up to 5 KB);
# Kinesis provisioned: per million 25 KB PUT payload units (+ shard-hours, not counted here);
# Kinesis on-demand: per GB ingested, each record rounded up to 1 KB; S3 Standard requests.
PRICES = {
    "firehose_gb": 0.029,
    "kinesis_put_units_million": 0.014,
    "kinesis_ondemand_gb": 0.08,
    "s3_put_list_thousand": 0.005,
    "s3_get_head_thousand": 0.0004,
}
PRICE_DATE = "2026-11-22 (list prices as published for us-east-1 when written; verify before use)"

def metrics(name):
    values = {}
    for line in (results / f"{name}.metrics").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, value = line.rsplit(" ", 1)
        values[key] = float(value)
    return values

def get(m, name, **labels):
    total = 0.0
    for key, value in m.items():
        base = key.split("{", 1)[0]
        if base != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', key))
        if all(found.get(k) == v for k, v in labels.items()):
            total += value
    return total

def per_million(name):
    """A run's counters and the factor that scales them to one million acknowledged events."""
    m = metrics(name)
    return m, 1e6 / get(m, "ingest_events_accepted_total")

import os

def fill_section():
    """Windows that fill Firehose records: billed bytes (5 KB per record, rounded up) against compressed bytes sent."""
    rows = []
    for rate, label in (("ref", "reference fleet, one of 3 nodes (1,000 sensors, one event each per 8.64 s)"), ("sat", "saturation (2,000 closed-loop sensors)")):
        for mode in ("fill", "nofill"):
            name = f"fill-{rate}-{mode}"
            if not (results / f"{name}.metrics").exists() or not (results / f"{name}.json").read_text().strip():
                continue
            m = metrics(name)
            report = json.loads((results / f"{name}.json").read_text())
            records = get(m, "ingest_sink_records_total", sink="firehose")
            sent = get(m, "ingest_sink_bytes_total", sink="firehose")
            billed = get(m, "ingest_sink_billing_units_total", sink="firehose") * 5 * 1024
            events = get(m, "ingest_events_accepted_total")
            # The reference fleet's day: 30 M events of this size, billed as in this run.
            day_gb = billed / events * 30e6 / 1e9 if events else float("nan")
            rows.append((label, mode, report, records, sent, billed, events, day_gb))
    if not rows:
        return None
    out = []
    o = out.append
    o("<!-- fill:begin -->")
    o("## Windows that fill Firehose records")
    o("")
    o(f"Produced by `bench/cost.sh` (or `FILL_ONLY=1 bench/cost.sh`) on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: the `Aws` "
      "backend against `bench/FakeAws` (5 ms round trip), 100 ms window, 300 B events padded with random readings "
      "(`--random-readings`, which compress as real readings do), the service's own counters after each run. `fill` is the "
      "default (`Batching:FillWindow` 600 ms, `Batching:FillRecordBytes` 4700); `nofill` sets `Batching:FillWindow` to the "
      "window. Billed bytes round each record up to Firehose's 5 KB increment; $ a day is the reference fleet's 30 M events "
      f"a day at ${PRICES['firehose_gb']}/GB billed. Ack latency is the load generator's, FakeAws's 5 ms included: a real "
      "Firehose round trip adds its own.")
    o("")
    o("| rate | windows | events/s | Firehose records | bytes per record sent | billed ÷ sent | ack p50 ms | ack p99 ms | Firehose billed GB a day | $ a day |")
    o("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, mode, report, records, sent, billed, events, day_gb in rows:
        o(f"| {label} | `{mode}` | {report['eventsPerSecond']:,.0f} | {records:,.0f} | {sent / records if records else 0:,.0f} | "
          f"{billed / sent if sent else float('nan'):.2f} | {report['p50Ms']:.0f} | {report['p99Ms']:.0f} | {day_gb:.3f} | {day_gb * PRICES['firehose_gb']:.4f} |")
    o("")
    o("<!-- fill:end -->")
    return "\n".join(out) + "\n"

fill = fill_section()
if os.environ.get("FILL_ONLY") == "1":
    page = out.read_text() if out.exists() else "# Benchmarks\n"
    if fill:
        if "<!-- fill:begin -->" in page:
            page = re.sub(r"<!-- fill:begin -->.*<!-- fill:end -->\n", lambda _: fill, page, flags=re.S)
        else:
            page = page.replace("<!-- cost:begin -->", fill + "\n<!-- cost:begin -->", 1)
        out.write_text(page)
        print(fill)
    sys.exit(0)

lines = []
w = lines.append
w("<!-- cost:begin -->")
w("## Cost model")
w("")
w(f"Produced by `bench/cost.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: {sensors} closed-loop sensors for {duration} per run, "
  "100 ms window, the service's own counters (`/metrics`) after each run. Prices: " + PRICE_DATE + ": "
  f"Firehose ${PRICES['firehose_gb']}/GB billed (5 KB per record minimum), Kinesis provisioned ${PRICES['kinesis_put_units_million']} per million 25 KB PUT payload units, "
  f"Kinesis on-demand ${PRICES['kinesis_ondemand_gb']}/GB (1 KB per record minimum), S3 ${PRICES['s3_put_list_thousand']} per 1,000 PUT/LIST and ${PRICES['s3_get_head_thousand']} per 1,000 GET/HEAD.")
w("")
w("### Delivery, per million events")
w("")
w("| design | event size | Firehose records | Firehose billed GB | Firehose $ | Kinesis records | Kinesis PUT payload units | Kinesis provisioned $ | Kinesis on-demand billed GB | Kinesis on-demand $ |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for size in (200, 1000):
    for agg in ("none", "plain", "kpl"):
        name = f"aws-{agg}-{size}"
        if not (results / f"{name}.metrics").exists():
            continue
        m, per = per_million(name)
        fh_records = get(m, "ingest_sink_records_total", sink="firehose") * per
        fh_units = get(m, "ingest_sink_billing_units_total", sink="firehose") * per
        fh_gb = fh_units * 5 * 1024 / 1e9
        k_records = get(m, "ingest_sink_records_total", sink="kinesis") * per
        k_units = get(m, "ingest_sink_billing_units_total", sink="kinesis") * per
        k_bytes = get(m, "ingest_sink_bytes_total", sink="kinesis") * per
        k_ondemand_gb = (k_bytes + k_records * 1024 * 0.5) / 1e9 if agg == "kpl" else k_records * max(1024, math.ceil(k_bytes / k_records / 1024) * 1024) / 1e9
        label = ("IngestService, plain Firehose records, " if agg == "plain" else "IngestService, gzip Firehose records, ") + \
            "Kinesis " + ("`Kpl` aggregation" if agg == "kpl" else "one record per event (`None`)")
        w(f"| {label} | {size} B | {fh_records:,.0f} | {fh_gb:.3f} | {fh_gb * PRICES['firehose_gb']:.4f} | {k_records:,.0f} | {k_units:,.0f} | "
          f"{k_units / 1e6 * PRICES['kinesis_put_units_million']:.5f} | {k_ondemand_gb:.3f} | {k_ondemand_gb * PRICES['kinesis_ondemand_gb']:.4f} |")
    envelope = size + 110
    fh_gb = 1e6 * max(5 * 1024, math.ceil(envelope / 5120) * 5120) / 1e9
    k_gb = 1e6 * math.ceil(envelope / 1024) * 1024 / 1e9
    w(f"| (b) one Firehose record per event | {size} B | 1,000,000 | {fh_gb:.3f} | {fh_gb * PRICES['firehose_gb']:.4f} | 1,000,000 | 1,000,000 | "
      f"{PRICES['kinesis_put_units_million']:.5f} | {k_gb:.3f} | {k_gb * PRICES['kinesis_ondemand_gb']:.4f} |")
w("")
w("### Firehose compression (`Aws:FirehoseCompression`), per million events")
w("")
w("Same runs: `Gzip` (the default) beside `None`, both with Kinesis `None`. Billed GB is Firehose's 5 KB-rounded records "
  "of the bytes sent; CPU is the service process's user + system time over the load generator's run, per 1,000 acknowledged requests. "
  "The load generator pads events with `x` to reach their size, which compresses far better than real readings, and "
  "a window's record then stays under 5 KB, so billing is Firehose's per-record minimum: the `bench/GzipLevels` table "
  "below measures envelopes with random readings instead.")
w("")
w("| Firehose records | event size | records | plain bytes per event | billed GB | Firehose $ | compression ratio | CPU ms per 1k requests | events/s |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for size in (200, 1000):
    plain_bytes = None
    for agg, label in (("plain", "`None`"), ("none", "`Gzip`")):
        name = f"aws-{agg}-{size}"
        if not (results / f"{name}.metrics").exists():
            continue
        m, per = per_million(name)
        sent = get(m, "ingest_sink_bytes_total", sink="firehose") * per
        kinesis_bytes = get(m, "ingest_sink_bytes_total", sink="kinesis") * per
        plain_bytes = kinesis_bytes / 1e6
        fh_gb = get(m, "ingest_sink_billing_units_total", sink="firehose") * per * 5 * 1024 / 1e9
        ticks, hz = (results / f"{name}.cpu").read_text().split()
        report = json.loads((results / f"{name}.json").read_text())
        cpu = int(ticks) / int(hz) * 1000 / (report["acked"] / 1000)
        ratio = kinesis_bytes / sent if sent else float("nan")
        w(f"| {label} | {size} B | {get(m, 'ingest_sink_records_total', sink='firehose') * per:,.0f} | {plain_bytes:,.0f} | {fh_gb:.3f} | "
          f"{fh_gb * PRICES['firehose_gb']:.4f} | {ratio:.1f} | {cpu:.0f} | {report['eventsPerSecond']:,.0f} |")
w("")
moto = results / "moto-gzip-200.metrics"
if moto.exists():
    m = metrics("moto-gzip-200")
    report = json.loads((results / "moto-gzip-200.json").read_text())
    acked = get(m, "ingest_events_accepted_total")
    w(f"Read back: the same gzip records sent to moto's Firehose (each raw object the records of one call, concatenated), "
      f"{acked:,.0f} events acknowledged; the load generator's `--verify` ran a regroup pass that read "
      f"{get(m, 'regroup_events_read_total'):,.0f} events from {get(m, 'regroup_batches_done_total'):,.0f} raw objects "
      f"({get(m, 'regroup_bad_lines_total'):,.0f} bad lines) and found {json.dumps(report.get('verify'))} among every sensor-day it read back.")
    w("")
levels = results / "gzip-levels.txt"
if levels.exists():
    w("The same 5 KB-rounded billing on envelopes whose readings are random numbers, 500 lines per gzip member, from "
      "`dotnet run -c Release --project bench/GzipLevels` (the service uses `Optimal`):")
    w("")
    w("| event size | .NET `CompressionLevel` | plain bytes per event | compression ratio | billed GB per million events | CPU µs per event |")
    w("| ---: | --- | ---: | ---: | ---: | ---: |")
    for line in levels.read_text().splitlines():
        if line.startswith("|"):
            w(line)
    w("")
w("Kinesis on-demand bytes for `Kpl` count each aggregated record's bytes plus half a kilobyte of rounding on average; "
  "`Kpl` record bytes are the packer's worst-case framing estimate, so they slightly overstate. FakeAws has one shard: "
  "a stream with S shards gets at least S aggregated records per window instead of one.")
w("")
local = results / "local-200.metrics"
if local.exists():
    m = metrics("local-200")
    events = get(m, "ingest_events_accepted_total")
    report = json.loads((results / "local-200.json").read_text())
    w("### Sensor-day store")
    w("")
    w(f"The Local run above stored {events:,.0f} events from {sensors} sensors and `--verify` read every sensor-day back once "
      f"(verify: {json.dumps(report.get('verify'))}); a sensor-day read is one GET. What the store costs depends on "
      "how often sensor-days are written over a whole day, not on one pass: see *Sensor-day store, per day at the "
      "reference fleet* below (`bench/fleetday.sh`).")
    w("")
w("<!-- cost:end -->")
section = "\n".join(lines) + "\n"
page = out.read_text() if out.exists() else "# Benchmarks\n"
if fill:
    if "<!-- fill:begin -->" in page:
        page = re.sub(r"<!-- fill:begin -->.*<!-- fill:end -->\n", lambda _: fill, page, flags=re.S)
    else:
        section = fill + "\n" + section
if "<!-- cost:begin -->" in page:
    page = re.sub(r"<!-- cost:begin -->.*<!-- cost:end -->\n", section, page, flags=re.S)
else:
    page = page.rstrip("\n") + "\n\n" + section
out.write_text(page)
print(section)
