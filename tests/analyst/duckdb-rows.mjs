// Reads a Parquet file with DuckDB and prints one JSON line: the column names DuckDB sees, in order, and every
// row as an array of values rendered as text (null stays null). Usage: node duckdb-rows.mjs FILE.parquet
import { DuckDBInstance } from "@duckdb/node-api";

const file = process.argv[2].replaceAll("'", "''");
const connection = await (await DuckDBInstance.create(":memory:")).connect();
const result = await connection.runAndReadAll(`SELECT * FROM read_parquet('${file}')`);
const columns = result.columnNames();
const rows = result.getRows().map((row) => row.map((v) => (v === null ? null : String(v))));
console.log(JSON.stringify({ columns, rows }));
