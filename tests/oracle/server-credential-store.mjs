// A plain-JavaScript ServerCredentialStore written from SPEC.md §2–§5: the
// TypeScript store's algorithm, await for await. Test-only (never shipped):
// the benchmark's baseline and the differential tests' oracle.

const SAFE_SEGMENT = /^[A-Za-z0-9._:-]{1,128}$/;
const isSafe = (s) => typeof s === "string" && SAFE_SEGMENT.test(s);

export class ServerCredentialStore {
  constructor({ vault, metadata, userId, projectId }) {
    if (!isSafe(userId) || !isSafe(projectId)) {
      throw new TypeError("ServerCredentialStore: invalid userId/projectId");
    }
    this.vault = vault;
    this.metadata = metadata;
    this.userId = userId;
    this.projectId = projectId;
    this.prefix = `${userId}/${projectId}/`;
  }

  isExpired(row) {
    return row.expiresAt !== undefined && new Date(row.expiresAt) <= new Date();
  }

  // get/has steps 1–3: the committed, unexpired row, or undefined (an
  // expired row is deleted through this.delete, its failure swallowed).
  async liveRow(key) {
    if (!isSafe(key)) return undefined;
    const row = await this.metadata.get(this.prefix + key);
    if (!row || row.pending === true) return undefined;
    if (this.isExpired(row)) {
      await this.delete(key).catch(() => {});
      return undefined;
    }
    return row;
  }

  async get(key) {
    if ((await this.liveRow(key)) === undefined) return undefined;
    return await this.vault.getSecret(this.prefix + key);
  }

  async has(key) {
    return (await this.liveRow(key)) !== undefined;
  }

  async put(key, value, options) {
    if (!isSafe(key)) throw new TypeError("ServerCredentialStore: invalid key");
    const id = this.prefix + key;
    const now = new Date().toISOString();
    const existing = await this.metadata.get(id);
    const base = {
      userId: this.userId,
      projectId: this.projectId,
      key,
      label: options?.label ?? existing?.label,
      provider: options?.provider ?? existing?.provider,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      expiresAt: options?.expiresAt ? options.expiresAt.toISOString() : existing?.expiresAt,
    };
    const marker = (reason) => ({
      ...base,
      pending: true,
      orphanedAt: new Date().toISOString(),
      orphanReason: reason,
    });
    if (existing === undefined) {
      await this.metadata.put(id, { ...base, pending: true });
      try {
        await this.vault.setSecret(id, value);
      } catch (e) {
        try {
          await this.metadata.delete(id);
        } catch {
          try {
            await this.metadata.put(id, marker("vault-write-failed"));
          } catch {}
          throw new Error(
            `ServerCredentialStore.put: vault write failed and rollback may have orphaned vault id ${id}`,
            { cause: e },
          );
        }
        throw e;
      }
      try {
        await this.metadata.put(id, { ...base, pending: false });
      } catch (c) {
        try {
          await this.metadata.put(id, marker("metadata-commit-failed"));
        } catch {}
        throw new Error(
          `ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id ${id}; row left as orphan marker`,
          { cause: c },
        );
      }
      return;
    }
    await this.vault.setSecret(id, value);
    await this.metadata.put(id, base);
  }

  async delete(key) {
    if (!isSafe(key)) return false;
    const id = this.prefix + key;
    const row = await this.metadata.get(id);
    if (!row || row.pending === true) return false;
    await this.commitDelete(id, key, row, "delete");
    return true;
  }

  async commitDelete(id, key, row, op) {
    await this.metadata.delete(id);
    try {
      await this.vault.deleteSecret(id);
    } catch (e) {
      let persisted = true;
      try {
        await this.metadata.put(id, {
          ...row,
          pending: true,
          orphanedAt: new Date().toISOString(),
          orphanReason: "vault-delete-failed",
        });
      } catch {
        persisted = false;
      }
      throw new Error(
        `ServerCredentialStore.${op}: metadata removed but vault delete failed for key ${key}` +
          (persisted ? "; orphan marker persisted" : "; orphan marker also failed to persist"),
        { cause: e },
      );
    }
  }

  async keys() {
    return (await this.listMetadata()).map((m) => m.key);
  }

  // Entries of this scope (prefix and row's userId/projectId), as the wasm
  // store reads them: a malformed entry is no row of ours.
  async scopedEntries() {
    const all = (await this.metadata.getAll()) ?? [];
    if (!Array.isArray(all)) {
      throw new TypeError("ServerCredentialStore: metadata.getAll() did not resolve to an array");
    }
    return all.filter((entry) => {
      const id = entry?.key;
      if (typeof id !== "string" || !id.startsWith(this.prefix)) return false;
      const row = entry.value;
      return !!row && row.userId === this.userId && row.projectId === this.projectId;
    });
  }

  async listMetadata() {
    return (await this.scopedEntries())
      .filter(({ value: row }) => row.pending !== true && !this.isExpired(row))
      .map(({ value: row }) => ({
        key: row.key,
        label: row.label,
        provider: row.provider,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        expiresAt: row.expiresAt,
      }));
  }

  async deleteAll() {
    const errors = [];
    for (const { key: id } of await this.scopedEntries()) {
      try {
        const row = await this.metadata.get(id);
        if (!row) continue;
        await this.commitDelete(id, id.slice(this.prefix.length), row, "deleteAll");
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, "ServerCredentialStore.deleteAll: one or more entries failed");
    }
  }
}
