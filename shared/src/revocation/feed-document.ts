import { hash } from 'node:crypto';

/**
 * The revocation feed's wire format, shared by the auth server that publishes it and the
 * verifier that applies it. A token is refused when one of its claims (`jti`, `sid`, `sub`,
 * `client_id`) has an entry: always for `jti` and `sid`, and for `sub` and `client_id` when the
 * token was issued at or before that entry's time (epoch seconds). Entries leave the feed once
 * every token they could match has expired, including the largest clock tolerance a verifier
 * may allow ({@link maxClockToleranceSeconds}).
 *
 * The feed is public (like the JWKS), so it never names anything: each entry is a digest of its
 * claim ({@link revocationDigest}). A verifier computes the same digest from the token it holds.
 * `jti` and `sid` entries carry no time (they refuse whatever the `iat`), so they are packed as
 * one string of fixed-width digests: 16 bytes per revoked token or family.
 */
export const revocationKinds = ['jti', 'sid', 'sub', 'client_id'] as const;
export type RevocationClaim = (typeof revocationKinds)[number];

/** The kinds listed as packed digests (no time: they refuse every token carrying them). */
const packedKinds = ['jti', 'sid'] as const;
/** The kinds listed as digest → cut-off time. */
const cutOffKinds = ['sub', 'client_id'] as const;

/**
 * The largest clock tolerance (seconds) any Tessera verifier may allow past `exp` (RFC 7519
 * §4.1.4). Verifiers refuse a larger setting, and feed entries outlive their tokens by this much,
 * so a verifier at the limit still finds the entry for every token it would accept.
 */
export const maxClockToleranceSeconds = 300;

/**
 * The largest feed body a verifier reads (8 MiB, about 500,000 revoked tokens). The auth server
 * keeps its feed well below it by design (quotas, family and user cut-offs instead of single
 * tokens) and reports the size, so operators are alerted long before it is reached.
 */
export const revocationFeedMaxBytes = 8 * 1024 * 1024;

/** Characters per digest: the first 96 bits (12 bytes) of SHA-256, base64url. */
const digestLength = 16;

/**
 * The digest under which a claim value is listed: SHA-256 over `kind:value`, the first 96 bits,
 * base64url. Plain, not keyed: anyone can check a value they already know (a client id they
 * guess), but the feed reveals no identifier to a reader who does not. 96 bits make an accidental
 * match (a valid token refused) vanishingly rare even with millions of entries.
 */
export function revocationDigest(kind: RevocationClaim, value: string): string {
  // 12 bytes are exactly 16 base64url characters, so the first 16 of the whole digest's encoding
  // are the 96 bits' own; the one-shot hash makes no Hash object (the verifier runs this per request).
  return hash('sha256', `${kind}:${value}`, 'base64url').slice(0, digestLength);
}

export interface RevocationFeedDocument {
  /** Epoch seconds when the auth server produced the document. */
  generated_at: number;
  /**
   * The version of the auth server's key set (its JWKS ETag) when the document was produced; a
   * verifier holding another version refetches the JWKS at once (a compromised key was replaced).
   */
  key_set?: string;
  revoked: {
    /** Digests of revoked access tokens' `jti`, concatenated (16 characters each). */
    jti: string;
    /** Digests of revoked refresh-token families (`sid`), concatenated. */
    sid: string;
    /** Digest of a user id → cut-off (epoch seconds). */
    sub: Record<string, number>;
    /** Digest of a client id → cut-off (epoch seconds). */
    client_id: Record<string, number>;
  };
}

/** One revocation as the auth server stores it, before it is published. */
export interface RevocationEntry {
  kind: RevocationClaim;
  value: string;
  revokedAt: number;
}

/**
 * Builds the published document from stored entries (the auth server's side). `digests`, kept
 * between calls, remembers each entry's digest: the feed is rebuilt often and changes little, so
 * only new entries are hashed (it is pruned to the entries of this call).
 */
export function toRevocationFeedDocument(
  entries: Iterable<RevocationEntry>,
  generatedAt: number,
  keySet?: string,
  digests?: Map<string, string>,
): RevocationFeedDocument {
  const seen = digests === undefined ? undefined : new Map<string, string>();
  const packed = { jti: [] as string[], sid: [] as string[] };
  // Object.fromEntries-style own properties: a digest can never be "__proto__" anyway (base64url of
  // 12 bytes is 16 characters), but a null-prototype object keeps that obvious.
  const cutOffs = {
    sub: Object.create(null) as Record<string, number>,
    client_id: Object.create(null) as Record<string, number>,
  };
  for (const { kind, value, revokedAt } of entries) {
    const key = `${kind}:${value}`;
    const digest = digests?.get(key) ?? revocationDigest(kind, value);
    seen?.set(key, digest);
    if (kind === 'jti' || kind === 'sid') packed[kind].push(digest);
    else cutOffs[kind][digest] = Math.max(revokedAt, cutOffs[kind][digest] ?? revokedAt);
  }
  if (digests !== undefined && seen !== undefined) {
    digests.clear();
    for (const [key, digest] of seen) digests.set(key, digest);
  }
  return {
    generated_at: generatedAt,
    ...(keySet === undefined ? {} : { key_set: keySet }),
    revoked: {
      // Sorted, so the same entries always give the same bytes (and ETag).
      jti: packed.jti.sort().join(''),
      sid: packed.sid.sort().join(''),
      sub: { ...cutOffs.sub },
      client_id: { ...cutOffs.client_id },
    },
  };
}

/** Lookup tables built once per feed document; checking a token is at most four digests and lookups. */
export interface RevocationIndex {
  jti: ReadonlySet<string>;
  sid: ReadonlySet<string>;
  sub: ReadonlyMap<string, number>;
  client_id: ReadonlyMap<string, number>;
  /** How many entries the index holds. */
  size: number;
}

function unpack(packed: string): Set<string> {
  const digests = new Set<string>();
  for (let offset = 0; offset < packed.length; offset += digestLength)
    digests.add(packed.slice(offset, offset + digestLength));
  return digests;
}

export function toRevocationIndex(document: RevocationFeedDocument): RevocationIndex {
  const jti = unpack(document.revoked.jti);
  const sid = unpack(document.revoked.sid);
  const sub = new Map(Object.entries(document.revoked.sub));
  const clientId = new Map(Object.entries(document.revoked.client_id));
  return { jti, sid, sub, client_id: clientId, size: jti.size + sid.size + sub.size + clientId.size };
}

/**
 * True when the claims match an entry of the index. A revoked `jti` or `sid` (refresh-token family)
 * refuses every token carrying it, whatever its `iat`: no new token can legitimately join a revoked
 * family, and one minted in a race with the revocation must not slip through. `sub` and
 * `client_id` are cut-offs: tokens issued after them (a re-created client) are fine.
 */
export function isRevokedBy(index: RevocationIndex, claims: Readonly<Record<string, unknown>>): boolean {
  for (const kind of packedKinds) {
    const value = claims[kind];
    if (typeof value === 'string' && index[kind].size > 0 && index[kind].has(revocationDigest(kind, value)))
      return true;
  }
  const iat = typeof claims.iat === 'number' ? claims.iat : 0;
  for (const kind of cutOffKinds) {
    const value = claims[kind];
    if (typeof value !== 'string' || index[kind].size === 0) continue;
    const revokedAt = index[kind].get(revocationDigest(kind, value));
    if (revokedAt !== undefined && iat <= revokedAt) return true;
  }
  return false;
}

const base64urlPattern = /^[A-Za-z0-9_-]*$/;
const digestPattern = /^[A-Za-z0-9_-]{16}$/;

/** Validates a parsed feed document; undefined if it is not one. */
export function parseRevocationFeed(value: unknown): RevocationFeedDocument | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { generated_at: generatedAt, key_set: keySet, revoked } = value as Record<string, unknown>;
  if (typeof generatedAt !== 'number' || typeof revoked !== 'object' || revoked === null) return undefined;
  if (keySet !== undefined && typeof keySet !== 'string') return undefined;
  const lists = revoked as Record<string, unknown>;
  for (const kind of packedKinds) {
    const packed = lists[kind];
    if (typeof packed !== 'string' || packed.length % digestLength !== 0 || !base64urlPattern.test(packed))
      return undefined;
  }
  for (const kind of cutOffKinds) {
    const entries = lists[kind];
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) return undefined;
    for (const [digest, time] of Object.entries(entries)) {
      if (!digestPattern.test(digest) || typeof time !== 'number') return undefined;
    }
  }
  return value as RevocationFeedDocument;
}
