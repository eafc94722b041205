// The examples stay working: the FileVault keeps its promises (encrypted at
// rest, 0600 key file, absent -> undefined, tampering detected) and the
// quickstart runs to the end in a scratch directory. Runs under node and bun.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FileVault } from "server-credential-store-wasm/file-vault";

const scratch = () => mkdtempSync(join(tmpdir(), "credstore-"));

test("FileVault: round trip, absent ids, overwrite, delete", async () => {
  const dir = scratch();
  const vault = await FileVault.open({ dir: join(dir, "vault"), keyFile: join(dir, "vault.key") });
  assert.equal(await vault.getSecret("u/p/missing"), undefined);
  await vault.setSecret("u/p/k", "first ünïcødé");
  await vault.setSecret("u/p/k", "second");
  assert.equal(await vault.getSecret("u/p/k"), "second");
  await vault.deleteSecret("u/p/k");
  await vault.deleteSecret("u/p/k"); // absent: still fine
  assert.equal(await vault.getSecret("u/p/k"), undefined);
});

test("FileVault: key file is 0600 and reused; nothing readable on disk", async () => {
  const dir = scratch();
  const opts = { dir: join(dir, "vault"), keyFile: join(dir, "vault.key") };
  const vault = await FileVault.open(opts);
  await vault.setSecret("u/p/api", "plain-secret-value");
  assert.equal(statSync(opts.keyFile).mode & 0o777, 0o600);
  const files = readdirSync(opts.dir);
  assert.equal(files.length, 1);
  assert.match(files[0], /^[0-9a-f]{64}\.secret$/);
  const raw = readFileSync(join(opts.dir, files[0]));
  assert.equal(raw.includes("plain-secret-value"), false);
  assert.equal(statSync(join(opts.dir, files[0])).mode & 0o777, 0o600);
  // A second open reads the same key and decrypts what the first wrote.
  assert.equal(await (await FileVault.open(opts)).getSecret("u/p/api"), "plain-secret-value");
});

test("FileVault: a tampered file does not decrypt, and the error shows no secret", async () => {
  const dir = scratch();
  const opts = { dir: join(dir, "vault"), keyFile: join(dir, "vault.key") };
  const vault = await FileVault.open(opts);
  await vault.setSecret("u/p/a", "secret-a");
  const path = join(opts.dir, readdirSync(opts.dir)[0]);
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(path, bytes);
  await assert.rejects(vault.getSecret("u/p/a"), (e) => !String(e.message).includes("secret-a"));
});

test("FileVault: the id is authenticated (a file copied under another id is rejected)", async () => {
  const dir = scratch();
  const opts = { dir: join(dir, "vault"), keyFile: join(dir, "vault.key") };
  const vault = await FileVault.open(opts);
  await vault.setSecret("u/p/a", "secret-a");
  const [aFile] = readdirSync(opts.dir);
  await vault.setSecret("u/p/b", "secret-b");
  const bFile = readdirSync(opts.dir).find((f) => f !== aFile);
  writeFileSync(join(opts.dir, bFile), readFileSync(join(opts.dir, aFile)));
  await assert.rejects(vault.getSecret("u/p/b"));
});

test("quickstart runs to the end and never prints a secret", () => {
  const script = fileURLToPath(new URL("../../examples/quickstart.mjs", import.meta.url));
  const out = execFileSync(process.execPath, [script], { cwd: scratch(), encoding: "utf8" });
  for (const expected of [
    "(matches what was put: true)",
    "orphanReason  vault-delete-failed",
    "rejected: ServerCredentialStore.delete: metadata removed but vault delete failed for key openai; orphan marker persisted",
    "marker row: removed",
  ]) {
    assert.ok(out.includes(expected), `output has ${JSON.stringify(expected)}`);
  }
  assert.equal(/sk-demo-\w|sk-ant-demo-value|short-lived/.test(out), false);
});
