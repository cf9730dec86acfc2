// Runs SQL with DuckDB and prints one JSON line: the last statement's rows as objects, each value rendered as text
// (null stays null). Every argument is one statement, run in order in one connection, from the current folder.
// Usage: node duckdb-sql.mjs "PRAGMA …" "SELECT …"
import { DuckDBInstance } from "@duckdb/node-api";

const connection = await (await DuckDBInstance.create(":memory:")).connect();
const statements = process.argv.slice(2);
for (const sql of statements.slice(0, -1)) {
  await connection.run(sql);
}

const result = await connection.runAndReadAll(statements.at(-1));
const columns = result.columnNames();
const rows = result.getRows().map((row) => Object.fromEntries(row.map((v, i) => [columns[i], v === null ? null : String(v)])));
console.log(JSON.stringify(rows));
