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
  createdAt: number;
  activatedAt: number | null;
  retiredAt: number | null;
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

export interface SigningKeyStore {
  /** Every key, oldest first. */
  list(): Promise<SigningKeyRecord[]>;
  /** Fails with StorageConflictError if the kid exists, or if the record is active and another key already is. */
  insert(key: SigningKeyRecord): Promise<void>;
}

/** Consecutive failed logins under one key (a username digest). */
export interface LoginFailures {
  failures: number;
  lastFailureAt: number;
}

export interface LoginThrottleStore {
  find(key: string): Promise<LoginFailures | undefined>;
  /**
   * Counts one more failure at `now`, atomically (concurrent replicas each get their own
   * count); the count restarts at 1 if the last failure was before `forgetBefore`.
   * Returns the new count.
   */
  addFailure(key: string, now: number, forgetBefore: number): Promise<number>;
  /** Forgets the key's failures; returns false if there were none. */
  clear(key: string): Promise<boolean>;
  /** Deletes every record whose last failure was before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

export interface Storage {
  users: UserStore;
  clients: ClientStore;
  keys: SigningKeyStore;
  loginThrottle: LoginThrottleStore;
  /** Resolves if the store answers; used by readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
