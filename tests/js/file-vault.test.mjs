// FileVault's hardening (server-credential-store-wasm/file-vault): 16-byte
// GCM tags only, short files refused, format 2 with the write sequence
// authenticated (and format 1 files still read), replayed files detected,
// the key file created atomically (a crash mid-write or two racing
// processes never leave an unusable or second key), permission checks, and
// non-string values refused. Runs under node and bun; child processes run
// under node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FileVault } from "server-credential-store-wasm/file-vault";

const NODE = process.versions.bun ? "node" : process.execPath;
const MODULE = fileURLToPath(import.meta.resolve("server-credential-store-wasm/file-vault"));
const GENERIC = /^Error: FileVault: cannot decrypt secret \(wrong key or tampered file\)$/;

const scratch = () => mkdtempSync(join(tmpdir(), "credstore-fv-"));
const options = (dir) => ({ dir: join(dir, "vault"), keyFile: join(dir, "vault.key") });
const fileOf = (opts, id) => join(opts.dir, createHash("sha256").update(id, "utf8").digest("hex") + ".secret");

/** A file as format 1 wrote it: IV | tag | ciphertext, AAD = the id. */
function formatOne(key, id, plaintext, tagLength = 16) {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: tagLength });
  cipher.setAAD(Buffer.from(id, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

test("FileVault: a shortened GCM tag never authenticates, and short files get the generic error", async () => {
  const opts = options(scratch());
  const vault = await FileVault.open(opts);
  const key = readFileSync(opts.keyFile);
  const id = "u/p/k";
  // The attack: IV + 4 bytes of tag and no ciphertext. Here the 4 bytes are
  // the right ones for an empty value (found with the key, as ~2^32 online
  // tries would find them); a 4-byte tag must still be refused.
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 4 });
  cipher.setAAD(Buffer.from(id, "utf8"));
  cipher.final();
  writeFileSync(fileOf(opts, id), Buffer.concat([iv, cipher.getAuthTag()]));
  await assert.rejects(vault.getSecret(id), GENERIC);
  // The same with format 2's header in front.
  const header = Buffer.from([0x53, 0x43, 0x56, 0x02, 0, 0, 0, 0, 0, 0, 0, 1]);
  const c2 = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 4 });
  c2.setAAD(Buffer.concat([header, Buffer.from(id, "utf8")]));
  c2.final();
  writeFileSync(fileOf(opts, id), Buffer.concat([header, iv, c2.getAuthTag()]));
  await assert.rejects(vault.getSecret(id), GENERIC);
  // A full file cut anywhere short of header + IV + tag: the generic error.
  await vault.setSecret(id, "value");
  const full = readFileSync(fileOf(opts, id));
  for (const length of [0, 1, 11, 12, 27, 28, 39]) {
    writeFileSync(fileOf(opts, id), full.subarray(0, length));
    await assert.rejects(vault.getSecret(id), GENERIC, `cut to ${length} bytes`);
  }
});

test("FileVault: format 2 on disk; format 1 files still decrypt (no data lost on upgrade)", async () => {
  const opts = options(scratch());
  const vault = await FileVault.open(opts);
  await vault.setSecret("u/p/new", "written now");
  const raw = readFileSync(fileOf(opts, "u/p/new"));
  assert.deepEqual([...raw.subarray(0, 4)], [0x53, 0x43, 0x56, 0x02], "magic and format byte");
  assert.equal(raw.length, 12 + 12 + 16 + Buffer.byteLength("written now"));

  const key = readFileSync(opts.keyFile);
  writeFileSync(fileOf(opts, "u/p/old"), formatOne(key, "u/p/old", "written by format 1 ✓"));
  assert.equal(await vault.getSecret("u/p/old"), "written by format 1 ✓");
  // A format 1 file whose random IV happens to begin with the magic bytes.
  const iv = Buffer.concat([Buffer.from([0x53, 0x43, 0x56, 0x02]), randomBytes(8)]);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from("u/p/tricky", "utf8"));
  const body = Buffer.concat([cipher.update("lucky iv", "utf8"), cipher.final()]);
  writeFileSync(fileOf(opts, "u/p/tricky"), Buffer.concat([iv, cipher.getAuthTag(), body]));
  assert.equal(await vault.getSecret("u/p/tricky"), "lucky iv");
  // The next write of that id upgrades it.
  await vault.setSecret("u/p/old", "rewritten");
  assert.deepEqual([...readFileSync(fileOf(opts, "u/p/old")).subarray(0, 4)], [0x53, 0x43, 0x56, 0x02]);
  assert.equal(await vault.getSecret("u/p/old"), "rewritten");

  // legacyFormat: false refuses format 1.
  const strictVault = await FileVault.open({ ...opts, legacyFormat: false });
  await assert.rejects(strictVault.getSecret("u/p/tricky"), GENERIC);
  assert.equal(await strictVault.getSecret("u/p/new"), "written now");
});

test("FileVault: a file put back under another version of an id, or an older file of the same id, is refused", async () => {
  const opts = options(scratch());
  const vault = await FileVault.open(opts);
  // Strict mode's ids carry the version: v1's file under v2's name fails.
  await vault.setSecret("u/p/k#v1", "first");
  await vault.setSecret("u/p/k#v2", "second");
  writeFileSync(fileOf(opts, "u/p/k#v2"), readFileSync(fileOf(opts, "u/p/k#v1")));
  await assert.rejects(vault.getSecret("u/p/k#v2"), GENERIC);

  // Same id: an older file replayed after a newer write is detected.
  await vault.setSecret("u/p/plain", "old value");
  const old = readFileSync(fileOf(opts, "u/p/plain"));
  await vault.setSecret("u/p/plain", "new value");
  assert.equal(await vault.getSecret("u/p/plain"), "new value");
  writeFileSync(fileOf(opts, "u/p/plain"), old);
  await assert.rejects(vault.getSecret("u/p/plain"), (e) => /replayed file/.test(e.message) && !/old value/.test(e.message));
  // Also after a delete: the deleted id's old file does not come back.
  await vault.setSecret("u/p/gone", "was here");
  const gone = readFileSync(fileOf(opts, "u/p/gone"));
  await vault.setSecret("u/p/gone", "later");
  await vault.deleteSecret("u/p/gone");
  writeFileSync(fileOf(opts, "u/p/gone"), gone);
  await assert.rejects(vault.getSecret("u/p/gone"), /replayed file/);

  // The sequence is authenticated: editing it breaks the file.
  await vault.setSecret("u/p/seq", "v");
  const bytes = readFileSync(fileOf(opts, "u/p/seq"));
  bytes[11] ^= 1;
  writeFileSync(fileOf(opts, "u/p/seq"), bytes);
  await assert.rejects(vault.getSecret("u/p/seq"), GENERIC);
});

test("FileVault: values and ids must be strings; the error names the type, never the value", async () => {
  const vault = await FileVault.open(options(scratch()));
  const secret = { toString: () => "SECRET-object" };
  for (const value of [secret, undefined, null, 42, ["SECRET-array"], Buffer.from("SECRET-buf")]) {
    await assert.rejects(vault.setSecret("u/p/k", value), (e) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /^FileVault\.setSecret: the value must be a string \(got \w+\)$/);
      assert.doesNotMatch(e.message, /SECRET|\[object/);
      return true;
    });
  }
  assert.equal(await vault.getSecret("u/p/k"), undefined, "nothing was written");
  await assert.rejects(vault.setSecret(7, "v"), TypeError);
  await assert.rejects(vault.getSecret({}), TypeError);
  await assert.rejects(vault.deleteSecret(undefined), TypeError);
});

/** Runs `source` as an ES module under node in `cwd`; resolves to { code, stdout, stderr }. */
function node(cwd, source) {
  return new Promise((done) => {
    const child = spawn(NODE, ["--input-type=module", "-e", source], { cwd });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

test("FileVault: a crash while the key is written leaves no short key behind", { timeout: 60_000 }, async () => {
  const dir = scratch();
  const opts = options(dir);
  // The process dies at the moment the key bytes are written, whichever way
  // the vault writes them (fs.promises.writeFile on a path, or a FileHandle).
  const crash = await node(dir, `
    import fsp from "node:fs/promises";
    import { openSync } from "node:fs";
    import { syncBuiltinESMExports } from "node:module";
    const die = () => process.kill(process.pid, "SIGKILL");
    const writeFile = fsp.writeFile;
    fsp.writeFile = async (path, data, opts) => {
      if (String(path).includes("vault.key")) { openSync(path, opts?.flag ?? "w", 0o600); die(); }
      return writeFile(path, data, opts);
    };
    const probe = await fsp.open(${JSON.stringify(join(dir, "probe"))}, "w");
    Object.getPrototypeOf(probe).writeFile = function () { die(); };
    Object.getPrototypeOf(probe).write = function () { die(); };
    await probe.close();
    syncBuiltinESMExports();
    const { FileVault } = await import(${JSON.stringify(MODULE)});
    await FileVault.open(${JSON.stringify(opts)});
    console.log("not killed");
  `);
  assert.equal(crash.signal, "SIGKILL", `the injected crash happened: ${crash.stdout}${crash.stderr}`);
  assert.ok(!existsSync(opts.keyFile) || statSync(opts.keyFile).size === 32, "no empty or short key file");
  const vault = await FileVault.open(opts);
  await vault.setSecret("u/p/k", "after the crash");
  assert.equal(await (await FileVault.open(opts)).getSecret("u/p/k"), "after the crash");
  assert.equal(statSync(opts.keyFile).size, 32);
});

test("FileVault: processes racing to create the key file all end up with the one key", { timeout: 60_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const dir = scratch();
    const opts = options(dir);
    const writers = Array.from({ length: 6 }, (_, i) =>
      node(dir, `
        const { FileVault } = await import(${JSON.stringify(MODULE)});
        const vault = await FileVault.open(${JSON.stringify(opts)});
        await vault.setSecret("u/p/w${i}", "from writer ${i}");
      `),
    );
    for (const r of await Promise.all(writers)) assert.equal(r.code, 0, r.stderr);
    const vault = await FileVault.open(opts);
    for (let i = 0; i < 6; i++) assert.equal(await vault.getSecret(`u/p/w${i}`), `from writer ${i}`);
    assert.deepEqual(readdirSync(dir).sort(), ["vault", "vault.key"], "no temp file left behind");
  }
});

test("FileVault: refuses a key file or directory others can reach or another user owns; warns when a directory is listable", async () => {
  const dir = scratch();
  const opts = options(dir);
  await FileVault.open(opts);
  assert.equal(statSync(opts.keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(opts.dir).mode & 0o777, 0o700);

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    chmodSync(opts.keyFile, mode);
    await assert.rejects(FileVault.open(opts), new RegExp(`key file .*vault\\.key has mode 0${mode.toString(8)}: group or others may access it`));
  }
  // Explicitly off: opens.
  await FileVault.open({ ...opts, checkPermissions: false });
  chmodSync(opts.keyFile, 0o600);

  chmodSync(opts.dir, 0o777);
  await assert.rejects(FileVault.open(opts), /vault directory .* has mode 0777: group or others may write to it/);
  chmodSync(opts.dir, 0o755);
  const warnings = [];
  await FileVault.open({ ...opts, onWarning: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /vault directory .* has mode 0755: group or others may list it/);
  chmodSync(opts.dir, 0o700);

  const sub = join(dir, "keys");
  mkdirSync(sub, { mode: 0o777 });
  chmodSync(sub, 0o777);
  await assert.rejects(FileVault.open({ ...opts, keyFile: join(sub, "vault.key") }), /key file directory .* group or others may write/);

  if (process.getuid?.() === 0) {
    // Root can hand the files to another user to check the owner test.
    chownSync(opts.keyFile, 65534, 65534);
    await assert.rejects(FileVault.open(opts), /key file .* is owned by another user \(uid 65534\)/);
    chownSync(opts.keyFile, 0, 0);
    chownSync(opts.dir, 65534, 65534);
    await assert.rejects(FileVault.open(opts), /vault directory .* is owned by another user/);
    chownSync(opts.dir, 0, 0);
  }
  const ok = await FileVault.open(opts);
  await ok.setSecret("u/p/k", "fine");
  assert.equal(await ok.getSecret("u/p/k"), "fine");
});

test("FileVault: files are 0600 and the key file is created with 0600 whatever the umask", () => {
  const dir = scratch();
  const opts = options(dir);
  // A child with umask 0: without explicit modes everything would be 0666/0777.
  const r = spawnSync(NODE, ["--input-type=module", "-e", `
    process.umask(0);
    const { FileVault } = await import(${JSON.stringify(MODULE)});
    const v = await FileVault.open(${JSON.stringify(opts)});
    await v.setSecret("u/p/k", "v");
  `], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(statSync(opts.keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(opts.dir).mode & 0o777, 0o700);
  for (const f of readdirSync(opts.dir)) assert.equal(statSync(join(opts.dir, f)).mode & 0o777, 0o600);
});

test("FileVault: a writer whose clock is behind still writes a newer sequence (no false replay for readers)", { timeout: 60_000 }, async () => {
  const dir = scratch();
  const opts = options(dir);
  const reader = await FileVault.open(opts);
  const writeFrom = (value, clockOffsetMs) =>
    node(dir, `
      const now = Date.now;
      Date.now = () => now() + ${clockOffsetMs};
      const { FileVault } = await import(${JSON.stringify(MODULE)});
      await (await FileVault.open(${JSON.stringify(opts)})).setSecret("u/p/k", ${JSON.stringify(value)});
    `);
  // A process whose clock runs a day ahead writes; the reader sees it.
  assert.equal((await writeFrom("from the fast clock", 86_400_000)).code, 0);
  assert.equal(await reader.getSecret("u/p/k"), "from the fast clock");
  // A process with the right clock writes the next value: it must read as newer.
  assert.equal((await writeFrom("later value", 0)).code, 0);
  assert.equal(await reader.getSecret("u/p/k"), "later value");
});
