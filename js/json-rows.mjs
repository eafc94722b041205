// Rows as JSON text, for the package's SQL backends (sqlite-kv.mjs,
// postgres.mjs): not an entry of the package.

/** JSON text of a row; `undefined`-valued properties drop out, as JSON.stringify does. */
export function encode(value, who) {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${who}: the value is not JSON-serializable`);
  return text;
}

/** `{ key, value }` entries of `{ key, value: JSON text }` rows; `undefined` when there are none. */
export function entries(rows) {
  return rows.length ? rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) })) : undefined;
}
