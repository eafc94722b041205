// Differential check: the package against the plain-JS oracle written from
// SPEC (tests/oracle), on seeded sequential sequences with injected faults.
// See support/differential.mjs for what is compared.
//
//   SEQUENCES=20000 node --test tests/js/differential.test.mjs   # more
//   SEED=12345 SEQUENCES=1 …                                     # replay one run
import { test, assert } from "./helpers/harness.mjs";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import { ServerCredentialStore as Oracle } from "../oracle/server-credential-store.mjs";
import { runDifferential } from "./support/differential.mjs";

const SEQUENCES = Number(process.env.SEQUENCES ?? 3000);
const SEED = Number(process.env.SEED ?? 20240611);

// Chunks of CHUNK sequences, one test each: every test stays well inside the
// per-test timeouts of both runners (bun's default is 5 s) on a busy machine.
const CHUNK = 250;
const grand = { sequences: 0, ops: 0, hostCalls: 0, faults: 0, rejections: 0, oddKeys: 0, oddListings: 0, oddScopes: 0 };
for (let from = 0; from < SEQUENCES; from += CHUNK) {
  const n = Math.min(CHUNK, SEQUENCES - from);
  test(`package ≡ oracle, sequences ${from}..${from + n - 1} (SEED=${SEED})`, { timeout: 120_000 }, async () => {
    const { totals, mismatch } = await runDifferential({
      Reference: Oracle,
      Candidate: ServerCredentialStore,
      sequences: n,
      seed: SEED,
      first: from,
    });
    for (const k of Object.keys(grand)) grand[k] += totals[k];
    if (mismatch) assert.fail(mismatch);
  });
}

test("the differential run exercised the fault paths", () => {
  console.log(
    `differential: ${grand.sequences} sequences, ${grand.ops} ops, ${grand.hostCalls} host calls, ` +
      `${grand.faults} injected faults, ${grand.rejections} rejections; odd input (SPEC second edition): ` +
      `${grand.oddKeys} non-string keys, ${grand.oddListings} odd getAll answers, ${grand.oddScopes} sequences with non-string scope ids`,
  );
  assert.ok(grand.oddKeys > SEQUENCES / 4 && grand.oddListings > SEQUENCES / 10 && grand.oddScopes > SEQUENCES / 10, "odd input exercised");
  assert.strictEqual(grand.sequences, SEQUENCES);
  assert.ok(grand.faults > SEQUENCES / 4, `too few faults injected (${grand.faults})`);
  assert.ok(grand.rejections > SEQUENCES / 8, `too few rejections (${grand.rejections})`);
});

// The engine itself must be able to fail: planted divergences, each of a kind
// a plain deepStrictEqual would miss or that only shows under faults.
const mutants = {
  "rows written with keys in another order": class extends Oracle {
    constructor(o) {
      super(o);
      const inner = this.metadata;
      this.metadata = Object.create(inner, {
        put: {
          value: (id, row) => {
            const sorted = row && typeof row === "object" ? Object.fromEntries(Object.entries(row).sort()) : row;
            return inner.put(id, sorted);
          },
        },
      });
    }
  },
  "a raw host error re-thrown as a copy": class extends Oracle {
    async delete(key) {
      try {
        return await super.delete(key);
      } catch (e) {
        if (e instanceof Error && !("cause" in e)) throw new Error(e.message);
        throw e;
      }
    }
  },
  "deleteAll stops at the first failure": class extends Oracle {
    async deleteAll() {
      for (const id of await this.scopedIds()) {
        const row = await this.metadata.get(id);
        if (row !== undefined) await this.commitDelete(id, id.slice(this.prefix.length), row, "deleteAll");
      }
    }
  },
  // SPEC second edition: odd input as the TypeScript store reads it.
  "first edition: non-string keys are invalid": class extends Oracle {
    get(key) {
      return typeof key === "string" ? super.get(key) : Promise.resolve(undefined);
    }
  },
  "first edition: a falsy row is missing for delete": class extends Oracle {
    async delete(key) {
      if (!/^[A-Za-z0-9._:-]{1,128}$/.test(key)) return false;
      const id = `${this.prefix}${key}`;
      const row = await this.metadata.get(id);
      if (!row || row.pending === true) return false;
      await this.commitDelete(id, key, row, "delete");
      return true;
    }
  },
  "first edition: a non-array listing is no rows, junk entries are skipped": class extends Oracle {
    async listMetadata() {
      const all = await this.metadata.getAll();
      if (!Array.isArray(all)) return [];
      return all
        .filter((e) => typeof e?.key === "string" && e.key.startsWith(this.prefix) && e.value?.userId === this.userId && e.value?.projectId === this.projectId)
        .filter(({ value: row }) => row.pending !== true && !this.isExpired(row))
        .map(({ value: row }) => ({ key: row.key, label: row.label, provider: row.provider, createdAt: row.createdAt, updatedAt: row.updatedAt, expiresAt: row.expiresAt }));
    }
  },
  "expired rows not deleted on read": class extends Oracle {
    isExpired(row) {
      return false;
    }
  },
  "wrong orphan reason": class extends Oracle {
    constructor(o) {
      super(o);
      const inner = this.metadata;
      this.metadata = Object.create(inner, {
        put: {
          value: (id, row) =>
            inner.put(id, row?.orphanReason === "metadata-commit-failed" ? { ...row, orphanReason: "x" } : row),
        },
      });
    }
  },
};

for (const [name, Mutant] of Object.entries(mutants)) {
  test(`the engine catches a planted divergence: ${name}`, async () => {
    const { mismatch } = await runDifferential({ Reference: Oracle, Candidate: Mutant, sequences: 400, seed: 7 });
    assert.ok(mismatch, "the mutant went unnoticed");
  });
}
