/**
 * The storage contract: what the domain needs from a store, with no driver types in it.
 * "Not found" is `undefined`; a unique-key clash is a `StorageConflictError`.
 * The one implementation (storage/sql) runs on SQLite and PostgreSQL.
 */

export type GrantType = 'password' | 'client_credentials' | 'refresh_token';
export const grantTypes: readonly GrantType[] = ['password', 'client_credentials', 'refresh_token'];

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  scopes: readonly string[];
  disabled: boolean;
  createdAt: number;
}

export interface ClientRecord {
  clientId: string;
  /** SHA-256 of the secret (hex); null for public clients. */
  secretDigest: string | null;
  isPublic: boolean;
  grants: readonly GrantType[];
  scopes: readonly string[];
  createdAt: number;
}

export type KeyState = 'pending' | 'active' | 'retiring' | 'retired' | 'compromised';

export interface SigningKeyRecord {
  kid: string;
  state: KeyState;
  alg: 'RS256';
  /** The public JWK as published (kty, n, e only; kid/alg/use are added on publication). */
  publicJwk: { kty: 'RSA'; n: string; e: string };
  /** The PKCS#8 private key, AES-256-GCM encrypted; null once destroyed. */
  privateKeyEncrypted: string | null;
  /** When it was stored, which is when it was first published (as pending, or active at bootstrap). */
  createdAt: number;
  /** When it started signing. */
  activatedAt: number | null;
  /** When it stopped signing (active → retiring); its retirement is counted from here. */
  retiringAt: number | null;
  /** When it was unpublished after retiring, and its private part destroyed. */
  retiredAt: number | null;
  /** When it was declared compromised (unpublished at once, private part destroyed). */
  compromisedAt: number | null;
}

export class StorageConflictError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageConflictError';
  }
}

export interface UserStore {
  insert(user: UserRecord): Promise<void>;
  findByUsername(username: string): Promise<UserRecord | undefined>;
  /** Returns false if no such user. */
  setDisabled(username: string, disabled: boolean): Promise<boolean>;
}

export interface ClientStore {
  insert(client: ClientRecord): Promise<void>;
  find(clientId: string): Promise<ClientRecord | undefined>;
}

/**
 * One rotation step, applied atomically and only if the store still looks the way the caller
 * saw it (compare-and-set), so replicas acting on the same observation cannot both apply it.
 */
export interface KeyRotation {
  now: number;
  /** The key expected to be active now; it becomes retiring. */
  demote?: string;
  /** The key expected to be pending now; it becomes active. */
  promote?: string;
  /** New keys to store in the same transaction (a fresh active one, the next pending one). */
  insert: readonly SigningKeyRecord[];
}

export interface SigningKeyStore {
  /** Every key, oldest first. */
  list(): Promise<SigningKeyRecord[]>;
  /**
   * Fails with StorageConflictError if the kid exists, or if the record is active (or pending)
   * and another key already is.
   */
  insert(key: SigningKeyRecord): Promise<void>;
  /**
   * Applies a rotation in one transaction. Resolves false, changing nothing, if `demote` is no
   * longer active, `promote` no longer pending, or an insert clashes: another replica got there first.
   */
  rotate(rotation: KeyRotation): Promise<boolean>;
  /** retiring → retired, destroying the private part; false if the key is not retiring (any more). */
  retire(kid: string, now: number): Promise<boolean>;
  /**
   * Marks a published key compromised (unpublished, private part destroyed). If it was the active
   * key, `replacement` becomes active in the same transaction, so there is never no signing key.
   * Resolves the state the key had, or undefined if it is not published (unknown, retired, compromised).
   */
  compromise(
    kid: string,
    now: number,
    replacement: SigningKeyRecord,
  ): Promise<'pending' | 'active' | 'retiring' | undefined>;
}

export interface Storage {
  users: UserStore;
  clients: ClientStore;
  keys: SigningKeyStore;
  /** Resolves if the store answers; used by readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
