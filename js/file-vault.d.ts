/**
 * `server-credential-store-wasm/file-vault`: a SecretVault for Node, one
 * file per secret, encrypted with AES-256-GCM (key in a 0600 key file, the
 * vault id bound in as additional authenticated data, file names hashed).
 */
import type { SecretVault } from "./index.js";

export interface FileVaultOptions {
  /** Directory of the encrypted files. Default "./.credstore/vault". */
  readonly dir?: string;
  /** 32-byte key file, created (mode 0600) on first use. Default "./.credstore/vault.key". */
  readonly keyFile?: string;
}

export declare class FileVault implements SecretVault {
  /** Opens (creating if needed) the vault directory and its key file. */
  static open(options?: FileVaultOptions): Promise<FileVault>;
  setSecret(id: string, plaintext: string): Promise<void>;
  getSecret(id: string): Promise<string | undefined>;
  deleteSecret(id: string): Promise<void>;
}
