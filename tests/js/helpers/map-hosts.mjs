// Plain Map-backed host objects, no recording: for the real-backend tests,
// the benchmark and the memory script. (fakes.mjs records and fails calls.)

/** A metadata KV over `rows` (insertion-ordered, as InMemoryKvStorage). */
export function mapMetadata(rows = new Map()) {
  return {
    rows,
    async get(id) {
      return rows.get(id);
    },
    async put(id, row) {
      rows.set(id, row);
    },
    async delete(id) {
      rows.delete(id);
    },
    async getAll() {
      return Array.from(rows, ([key, value]) => ({ key, value }));
    },
  };
}

/** A vault over `map`. */
export function mapVault(map = new Map()) {
  return {
    map,
    async setSecret(id, plaintext) {
      map.set(id, plaintext);
    },
    async getSecret(id) {
      return map.get(id);
    },
    async deleteSecret(id) {
      map.delete(id);
    },
  };
}
