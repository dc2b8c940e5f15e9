import { hash, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { systemClock, type Clock } from '../clock.js';
import type { JwksKeyProvider } from '../jwks/key-provider.js';

/** Options for {@link createVerifiedTokenCache}. */
export interface VerifiedTokenCacheOptions {
  /** The same key provider the strategy verifies with: an entry lives only while its key does. */
  keys: JwksKeyProvider;
  /** Drives expiry; defaults to the system clock. */
  clock?: Clock;
  /** At most this many tokens are held; the oldest entry is dropped first (default 4096). */
  maxEntries?: number;
}

/**
 * Remembers the principals of tokens the passport-jwt strategy has already verified, so a
 * token presented again skips the RSA verification. The strategy stays the verifier
 * of record: only what it accepted is ever stored (see `createRequireToken`), under the SHA-256
 * digest of the exact token string, so a hit is the very bytes that were verified (short of a
 * SHA-256 collision) without the cache holding the token itself.
 *
 * An entry is used only while all of these hold, else it is dropped and the token is verified
 * in full again:
 * - the token has not reached its `exp` (no clock leeway on a hit);
 * - its `kid` is still in the key set and maps to the same key (a removed or compromised key
 *   stops its tokens at once, RFC 8725 §3.3 spirit);
 * - the key set is usable (not past its stale window while the auth server is unreachable);
 *
 * Revocation is not this cache's business: `createRequireToken`'s `isRevoked` runs on every
 * request, hit or miss.
 *
 * Admission: a token is stored the second time it is verified, not the first (TinyLFU's
 * "doorkeeper": one bit per token hash, all cleared after every `maxEntries` sightings). A
 * client reusing its token pays one extra verification; a stream of one-time tokens (more
 * distinct tokens than the cache holds) never churns the cache, which would evict the entries
 * that do get hit and keep the garbage collector busy promoting entries nobody asks for again.
 */
export interface VerifiedTokenCache {
  /** The principal for a token verified before and still valid, or undefined (verify it in full). */
  lookup(token: string): Promise<Express.User | undefined>;
  /** Records the principal the strategy returned for `token` (stored from its second sighting on). */
  remember(token: string, user: Express.User): Promise<void>;
  /** Drops one token (e.g. once it is found revoked). */
  forget(token: string): void;
  /** Entries held now. */
  readonly size: number;
}

/** The key a token was verified with, under its kid; one object per key, shared by its entries. */
interface Signer {
  kid: string;
  key: KeyObject;
}

/** What one token costs: its principal (whose `claims.exp` says when it ends) and its signer. */
interface Entry {
  user: Express.User;
  signer: Signer;
}

/**
 * At most this many distinct claim values (issuers, audiences, client ids, scopes) are shared
 * between entries. A deployment has a handful of each; past the bound values are simply not
 * shared, so a flood of distinct ones costs memory per entry, as before, and nothing else.
 */
const maxSharedValues = 1024;

/** The cache key: a token's SHA-256 digest as a 32-character one-byte string (the token is 800+). */
function digest(token: string): string {
  // 'binary' is latin1: one character per digest byte.
  return hash('sha256', token, 'binary');
}

/** Bits in the doorkeeper: 2^16, so at `maxEntries` (≤ 4096 by default) sightings few collide. */
const doorkeeperBits = 1 << 16;

/** FNV-1a over the token's last 32 characters: its signature, so distinct tokens spread evenly. */
function hashToken(token: string): number {
  let hash = 0x811c9dc5;
  for (let i = Math.max(0, token.length - 32); i < token.length; i++) {
    hash = Math.imul(hash ^ token.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

/** Creates a {@link VerifiedTokenCache}; share one between the strategy's users in an app, never between apps. */
export function createVerifiedTokenCache(options: VerifiedTokenCacheOptions): VerifiedTokenCache {
  const { keys } = options;
  const clock = options.clock ?? systemClock;
  const maxEntries = options.maxEntries ?? 4096;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('createVerifiedTokenCache: maxEntries must be a positive integer');
  }
  // Insertion order is Map order: the first key is the oldest entry.
  const entries = new Map<string, Entry>();
  /** One Signer per kid while the kid maps to the same key. */
  const signers = new Map<string, Signer>();
  /** Claim values many tokens carry alike, one copy each, and one frozen scope list per scope string. */
  const sharedStrings = new Map<string, string>();
  const sharedScopes = new Map<string, readonly string[]>();
  function share<T>(table: Map<string, T>, value: string, make: () => T): T | undefined {
    const held = table.get(value);
    if (held !== undefined || table.size >= maxSharedValues) return held;
    const made = make();
    table.set(value, made);
    return made;
  }
  function sharedString(value: unknown): unknown {
    return typeof value === 'string' ? (share(sharedStrings, value, () => value) ?? value) : value;
  }
  /**
   * Points the principal's repeated values (iss, aud, client_id, scope and its list) at one
   * shared copy each: equal strings, so nothing a reader sees changes, and the principal is
   * frozen right after.
   */
  function compact(user: Express.User): void {
    const claims = user.claims as unknown as Record<string, unknown>;
    for (const name of ['iss', 'aud', 'client_id', 'scope'] as const) {
      if (typeof claims[name] === 'string') claims[name] = sharedString(claims[name]);
    }
    if (typeof user.clientId === 'string') user.clientId = sharedString(user.clientId) as string;
    const scope = user.scope.join(' ');
    const list = share(sharedScopes, scope, () => Object.freeze([...user.scope]));
    if (list !== undefined) user.scope = list as string[];
  }
  function signerFor(kid: string, key: KeyObject): Signer {
    let signer = signers.get(kid);
    if (signer?.key !== key) {
      if (signers.size >= maxSharedValues) signers.clear();
      signer = { kid, key };
      signers.set(kid, signer);
    }
    return signer;
  }
  const seen = new Uint32Array(doorkeeperBits / 32);
  let sightings = 0;
  /** Notes one sighting of `token`; true if it was (probably) seen since the last clearing. */
  function seenBefore(token: string): boolean {
    if (++sightings > maxEntries) {
      seen.fill(0);
      sightings = 1;
    }
    const bit = hashToken(token) % doorkeeperBits;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    const before = ((seen[word] as number) & mask) !== 0;
    seen[word] = (seen[word] as number) | mask;
    return before;
  }

  return {
    async lookup(token) {
      const id = digest(token);
      const entry = entries.get(id);
      if (entry === undefined) return undefined;
      if (entry.user.claims.exp * 1000 <= clock.now()) {
        entries.delete(id);
        return undefined;
      }
      // Past the stale window the strategy answers 503: a cached answer must not outlive the keys.
      if (!keys.status().usable) return undefined;
      // A known kid resolves at once; a removed one costs what a full verification would.
      const { signer } = entry;
      const key = await keys.getKey(signer.kid);
      if (key !== signer.key) {
        entries.delete(id);
        return undefined;
      }
      return entry.user;
    },

    async remember(token, user) {
      const id = digest(token);
      if (!entries.has(id) && !seenBefore(token)) return;
      const exp = user.claims.exp;
      const kid = decodeProtectedHeader(token).kid;
      if (typeof exp !== 'number' || typeof kid !== 'string') return;
      const key = await keys.getKey(kid);
      if (key === undefined) return;
      if (entries.size >= maxEntries && !entries.has(id)) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      // Shared by every request presenting this token: nobody may change it.
      if (!Object.isFrozen(user)) compact(user);
      Object.freeze(user.scope);
      Object.freeze(user.claims);
      entries.set(id, { user: Object.freeze(user), signer: signerFor(kid, key) });
    },

    forget(token) {
      entries.delete(digest(token));
    },

    get size() {
      return entries.size;
    },
  };
}
