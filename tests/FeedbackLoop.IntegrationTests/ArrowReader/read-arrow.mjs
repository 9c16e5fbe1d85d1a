// Prints an Arrow IPC file as JSON: its schema (name, type, nullable per field) and its rows. Used by the export tests to
// read what Apache.Arrow (C#) wrote with a reader we did not write.
import { readFileSync } from "node:fs";
import { tableFromIPC } from "apache-arrow";

const table = tableFromIPC(readFileSync(process.argv[2]));
const plain = (value) => {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value.toArray === "function" && typeof value.get === "function" && !value.toJSON) return [...value].map(plain);
  if (typeof value.toJSON === "function") return plain(value.toJSON());
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
};
const rows = [];
for (const row of table) rows.push(plain(row.toJSON()));
process.stdout.write(JSON.stringify({
  rows: table.numRows,
  fields: table.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
  data: rows,
}));
