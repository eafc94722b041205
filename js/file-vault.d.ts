/**
 * `server-credential-store-wasm/file-vault`: a SecretVault for Node, one
 * file per secret, encrypted with AES-256-GCM (key in a 0600 key file created
 * atomically, the vault id and an authenticated per-write sequence bound in
 * as additional authenticated data, 16-byte tags only, file names hashed,
 * writes and deletes fsynced).
 */
import type { SecretVault } from "./index.js";

export interface FileVaultOptions {
  /** Directory of the encrypted files. Default "./.credstore/vault". */
  readonly dir?: string;
  /** 32-byte key file, created (mode 0600) on first use. Default "./.credstore/vault.key". */
  readonly keyFile?: string;
  /**
   * Refuse a key file another user owns or group/others may access, and a
   * directory another user owns or group/others may write; warn when
   * group/others may list a directory. Default true (always off on Windows).
   */
  readonly checkPermissions?: boolean;
  /** Read files of format 1 (written before format 2). Default true. */
  readonly legacyFormat?: boolean;
  /** Receives the permission warnings. Default: `process.emitWarning`. */
  readonly onWarning?: (message: string) => void;
}

export declare class FileVault implements SecretVault {
  /** Opens (creating if needed) the vault directory and its key file. */
  static open(options?: FileVaultOptions): Promise<FileVault>;
  /** A vault over `dir` with a 32-byte key you hold (from a KMS, say). */
  constructor(dir: string, key: Uint8Array, options?: { readonly legacyFormat?: boolean });
  /** Rejects with a TypeError when `plaintext` is not a string. */
  setSecret(id: string, plaintext: string): Promise<void>;
  getSecret(id: string): Promise<string | undefined>;
  deleteSecret(id: string): Promise<void>;
}
