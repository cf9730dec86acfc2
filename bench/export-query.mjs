// Times the fleet queries of docs/analysts.md on a benchmark's export: per-line averages for 1 day and for 7 days
// (the day's parts linked under 6 more day= folders), and the silent-sensor scan over 7 days. Uses the DuckDB of
// tests/analyst (npm ci there first). Usage: node bench/export-query.mjs DATA_DIR; prints one JSON line.
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/analyst/package.json", import.meta.url));
const { DuckDBInstance } = require("@duckdb/node-api");
const data = process.argv[2];
const source = `read_parquet('${data}/analytics/*/*.parquet', hive_partitioning = true)`;
const queries = {
  oneDay: `SELECT line, count(*) AS events, avg(t) AS mean_t FROM ${source} WHERE day = DATE '2026-11-21' GROUP BY line`,
  sevenDays: `SELECT line, count(*) AS events, avg(t) AS mean_t FROM ${source} WHERE day BETWEEN DATE '2026-11-15' AND DATE '2026-11-21' GROUP BY line`,
  silentSevenDays: `SELECT sensorId, max(gap) AS longest FROM (SELECT sensorId, ts - lag(ts) OVER (PARTITION BY sensorId ORDER BY ts) AS gap FROM ${source} WHERE day BETWEEN DATE '2026-11-15' AND DATE '2026-11-21') GROUP BY sensorId HAVING max(gap) > INTERVAL 6 HOUR`,
  oneSensorOneDay: `SELECT count(*) AS events FROM ${source} WHERE day = DATE '2026-11-21' AND sensorId = 'fleet-00007'`,
};
const result = {};
for (const [name, sql] of Object.entries(queries)) {
  const connection = await (await DuckDBInstance.create(":memory:")).connect();
  const started = performance.now();
  const rows = (await connection.runAndReadAll(sql)).getRows();
  result[name] = { ms: Math.round(performance.now() - started), rows: rows.length };
}

console.log(JSON.stringify(result));
