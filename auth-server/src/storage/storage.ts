/**
 * The storage contract: what the domain needs from a store, with no driver types in it.
 * "Not found" is `undefined`; a unique-key clash is a `StorageConflictError`.
 * The one implementation (storage/sql) runs on SQLite and PostgreSQL.
 */

/**
 * How long a record read from the store (a client, a resource) may be served from a replica's
 * memory: the in-memory stores (clients/client-cache.ts, resources/resource-cache.ts) keep
 * entries this long, so a change made elsewhere (the admin CLI, another replica) reaches every
 * replica within it, and revocation cut-offs keep this much margin (tokens/revocations.ts).
 */
export const storeCacheTtlMs = 10_000;

/** RFC 8693 §2.1: the grant_type of a token exchange. */
export const tokenExchangeGrantType = 'urn:ietf:params:oauth:grant-type:token-exchange';

export type GrantType =
  'password' | 'client_credentials' | 'refresh_token' | 'authorization_code' | typeof tokenExchangeGrantType;
export const grantTypes: readonly GrantType[] = [
  'password',
  'client_credentials',
  'refresh_token',
  'authorization_code',
  tokenExchangeGrantType,
];

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  scopes: readonly string[];
  disabled: boolean;
  createdAt: number;
}

/**
 * A client's public signing key for private_key_jwt (RFC 7523 §2.2), as registered: public
 * members only, with the one algorithm it verifies (RFC 8725 §3.1: the key decides the alg).
 */
export type ClientJwk =
  | { kty: 'RSA'; alg: 'RS256'; kid?: string; n: string; e: string }
  | { kty: 'EC'; alg: 'ES256'; kid?: string; crv: 'P-256'; x: string; y: string };

export interface ClientRecord {
  clientId: string;
  /** SHA-256 of the secret (hex); null for public clients and key clients. */
  secretDigest: string | null;
  /** The public keys of a private_key_jwt client; null for secret and public clients. */
  jwks: readonly ClientJwk[] | null;
  isPublic: boolean;
  grants: readonly GrantType[];
  scopes: readonly string[];
  /** The resources (RFC 8707 identifiers) it may ask tokens for. */
  resources: readonly string[];
  createdAt: number;
  /** Where authorization responses may go (exact string match, RFC 9700 §4.1.3); empty for none. */
  redirectUris: readonly string[];
  /** Where RP-initiated logout may send the browser back to (exact match). */
  postLogoutRedirectUris: readonly string[];
  /** Our own app: sign-in skips the consent page. */
  firstParty: boolean;
}

/** A registered resource: a service that accepts tokens, named by its identifier (RFC 8707 §2). */
export interface ResourceRecord {
  /** An absolute URI without fragment; the `aud` of tokens for it. */
  uri: string;
  /** The scope values it understands; a token for it carries no others. */
  scopes: readonly string[];
  /** The client the resource server itself authenticates as (to introspect its tokens); or null. */
  serverClientId: string | null;
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

export interface RefreshTokenRecord {
  /** SHA-256 digest of the token (hex); the token itself is never stored. */
  id: string;
  /** Every token descended from one password grant shares a family (RFC 9700 §4.14.2). */
  familyId: string;
  clientId: string;
  userId: string;
  /** The scope originally granted; successors keep it (RFC 6749 §6). */
  scope: readonly string[];
  /** The resources of the grant (RFC 8707 §2.2): a refresh may narrow to some, never add one. */
  resources: readonly string[];
  createdAt: number;
  /** Absolute expiry, inherited by every successor in the family. */
  expiresAt: number;
  idleExpiresAt: number;
  consumedAt: number | null;
  successorId: string | null;
  revokedAt: number | null;
}

/**
 * An entry of the revocation feed: tokens whose `kind` claim (jti, sid, sub or client_id)
 * equals `value` and that were issued at or before `revokedAt` (epoch seconds) are refused.
 * Kept until `expiresAt` (epoch seconds), when every such token has expired anyway.
 */
export type RevocationKind = 'jti' | 'sid' | 'sub' | 'client_id';
export interface RevocationRecord {
  kind: RevocationKind;
  value: string;
  /** The client whose request added the entry (counted against its quota); null for cut-offs. */
  clientId: string | null;
  revokedAt: number;
  expiresAt: number;
}

/**
 * An authorization code (RFC 6749 §4.1.2), stored by its SHA-256 digest, bound to the client,
 * redirect URI and PKCE challenge it was issued for. `grantId` names everything issued from it
 * (the refresh-token family and the access tokens' `sid`), so a replay can revoke it all.
 */
export interface AuthorizationCodeRecord {
  id: string;
  grantId: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  codeChallenge: string;
  scope: readonly string[];
  nonce: string | null;
  /** The browser session's public id (the ID token's `sid`) and when the user signed in (epoch ms). */
  sessionId: string;
  authTime: number;
  createdAt: number;
  expiresAt: number;
  consumedAt: number | null;
  /** The resources (RFC 8707) asked for at the authorization endpoint; the token's `aud`. */
  resources: readonly string[];
}

/** A signed-in browser: the cookie holds a random token; only its digest (`id`) is stored. */
export interface BrowserSessionRecord {
  id: string;
  /** The public session id (the ID token's `sid`; never the cookie value). */
  sid: string;
  userId: string;
  /** When the user typed the password (auth_time), epoch ms. */
  authTime: number;
  lastSeenAt: number;
  /** Idle expiry moves with lastSeenAt; the absolute one never moves. */
  idleExpiresAt: number;
  expiresAt: number;
  endedAt: number | null;
}

/** What a user allowed a client (remembered until revoked). */
export interface ConsentRecord {
  userId: string;
  clientId: string;
  scope: readonly string[];
  grantedAt: number;
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
  findById(id: string): Promise<UserRecord | undefined>;
  /** The updated user, or undefined if there is no such user. */
  setDisabled(username: string, disabled: boolean): Promise<UserRecord | undefined>;
}

export interface ClientStore {
  insert(client: ClientRecord): Promise<void>;
  find(clientId: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
  /** Replaces the resources a client may ask for; false if there is no such client. */
  setResources(clientId: string, resources: readonly string[]): Promise<boolean>;
  /** Replaces the keys of a private_key_jwt client; false if there is no such key client. */
  setJwks(clientId: string, jwks: readonly ClientJwk[]): Promise<boolean>;
  /** Returns false if there is no such client. */
  delete(clientId: string): Promise<boolean>;
}

export interface ResourceStore {
  insert(resource: ResourceRecord): Promise<void>;
  find(uri: string): Promise<ResourceRecord | undefined>;
  list(): Promise<ResourceRecord[]>;
  /** The resources whose server is this client. */
  listServedBy(clientId: string): Promise<ResourceRecord[]>;
  /** Changes what is given; returns the updated record, or undefined if there is no such resource. */
  update(
    uri: string,
    change: { scopes?: readonly string[]; serverClientId?: string | null },
  ): Promise<ResourceRecord | undefined>;
  /** Deletes the resource and takes it off every client's list; false if there is no such resource. */
  delete(uri: string): Promise<boolean>;
}

/**
 * Single-use client assertion ids (RFC 7523 §3 item 7), shared by every replica. Keys are
 * digests of (client_id, jti); each is kept until the assertion could no longer be accepted.
 */
export interface AssertionJtiStore {
  /**
   * Records `key` as used until `expiresAt` (epoch ms), atomically: true the first time, false
   * while an earlier use is still recorded (a replay), on any number of replicas at once.
   */
  claim(key: string, expiresAt: number, now: number): Promise<boolean>;
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
   * key, in the same transaction (so there is never no signing key): the pending key, already
   * published, becomes active and `replacement` becomes the next pending key; without a pending
   * key, `replacement` becomes active. Resolves the state the key had and the key now active,
   * or undefined if it is not published (unknown, retired, compromised).
   */
  compromise(
    kid: string,
    now: number,
    replacement: SigningKeyRecord,
  ): Promise<
    { previousState: 'active'; activated: string } | { previousState: 'pending' | 'retiring' } | undefined
  >;
  /**
   * Replaces private parts (re-encrypted under a new secret) in one transaction, each only if
   * it still holds `from`; false, changing nothing, if any row changed meanwhile.
   */
  replaceEncrypted(updates: readonly { kid: string; from: string; to: string }[]): Promise<boolean>;
}

export interface RefreshTokenStore {
  insert(token: RefreshTokenRecord): Promise<void>;
  find(id: string): Promise<RefreshTokenRecord | undefined>;
  listFamily(familyId: string): Promise<RefreshTokenRecord[]>;
  /**
   * Marks a live token consumed and records its successor, as one conditional update:
   * false if it was already consumed or revoked (another request won the race).
   */
  markConsumed(id: string, successorId: string, now: number): Promise<boolean>;
  /** Revokes every live token of the family; returns how many. */
  revokeFamily(familyId: string, now: number): Promise<number>;
  /** Revokes every live token of a user; returns the families touched. */
  revokeForUser(userId: string, now: number): Promise<string[]>;
  /** The families with a token of this client not yet revoked. */
  listLiveFamiliesForClient(clientId: string): Promise<string[]>;
  /** Deletes every token issued to a client. */
  deleteForClient(clientId: string): Promise<void>;
  /** Deletes tokens past their absolute or idle expiry at `now`; returns how many. */
  prune(now: number): Promise<number>;
}

export interface AuthorizationCodeStore {
  insert(code: AuthorizationCodeRecord): Promise<void>;
  /**
   * Marks the code used by `clientId`, atomically: `first` is true for exactly one caller; later
   * callers get the record with `first` false (a replay). A code issued to another client is left
   * unused (its record comes back with `first` false). Undefined for an unknown code.
   */
  consume(
    id: string,
    clientId: string,
    now: number,
  ): Promise<{ record: AuthorizationCodeRecord; first: boolean } | undefined>;
  /** Deletes codes that expired before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

export interface BrowserSessionStore {
  insert(session: BrowserSessionRecord): Promise<void>;
  find(id: string): Promise<BrowserSessionRecord | undefined>;
  /** Records activity: the idle expiry moves to `idleExpiresAt` (never past the absolute one). */
  touch(id: string, now: number, idleExpiresAt: number): Promise<void>;
  /** Ends one session; false if it was not live. */
  end(id: string, now: number): Promise<boolean>;
  /** Ends every live session of a user; returns how many. */
  endForUser(userId: string, now: number): Promise<number>;
  /** Deletes sessions ended or expired before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

export interface ConsentStore {
  find(userId: string, clientId: string): Promise<ConsentRecord | undefined>;
  /** Records (or replaces) what the user allowed the client. */
  upsert(consent: ConsentRecord): Promise<void>;
  /** Forgets a consent; false if there was none. */
  delete(userId: string, clientId: string): Promise<boolean>;
  /** Forgets every consent given to a client (it is being deleted). */
  deleteForClient(clientId: string): Promise<void>;
}

export interface RevocationStore {
  /** Adds or extends an entry (the later revokedAt and expiresAt win). */
  upsert(entry: RevocationRecord): Promise<void>;
  /** Entries still in force at `nowSeconds`. */
  listActive(nowSeconds: number): Promise<RevocationRecord[]>;
  /** How many entries added for `clientId` are still in force at `nowSeconds`. */
  countForClient(clientId: string, nowSeconds: number): Promise<number>;
  /** Deletes entries no longer in force at `nowSeconds`; returns how many. */
  prune(nowSeconds: number): Promise<number>;
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
  resources: ResourceStore;
  keys: SigningKeyStore;
  refreshTokens: RefreshTokenStore;
  revocations: RevocationStore;
  assertionJtis: AssertionJtiStore & {
    /** Deletes entries expired at `now`; returns how many. */
    prune(now: number): Promise<number>;
  };
  /** Runs `work` in one transaction on a Storage bound to it; do not nest. */
  transaction<T>(work: (tx: Storage) => Promise<T>): Promise<T>;
  loginThrottle: LoginThrottleStore;
  authorizationCodes: AuthorizationCodeStore;
  browserSessions: BrowserSessionStore;
  consents: ConsentStore;
  /** Resolves if the store answers; used by readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
