// Reads a Parquet file with DuckDB (a reader independent of the service's writer) and prints one JSON line:
// the column types DuckDB sees and the row count. Usage: node duckdb-types.mjs FILE.parquet
import { DuckDBInstance } from "@duckdb/node-api";

const file = process.argv[2].replaceAll("'", "''");
const connection = await (await DuckDBInstance.create(":memory:")).connect();
const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
const types = Object.fromEntries(described.getRowObjects().map((r) => [r.column_name, r.column_type]));
const counted = await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet('${file}')`);
console.log(JSON.stringify({ types, rows: counted.getRowObjects()[0].n }));
