/**
 * The revocation feed's wire format, shared by the auth server that publishes it and the
 * verifier that applies it. A token is refused when one of its claims (`jti`, `sid`, `sub`,
 * `client_id`) has an entry and the token was issued at or before that entry's time
 * (epoch seconds). Entries leave the feed once every token they could match has expired.
 */
export const revocationKinds = ['jti', 'sid', 'sub', 'client_id'] as const;
export type RevocationClaim = (typeof revocationKinds)[number];

export interface RevocationFeedDocument {
  /** Epoch seconds when the auth server produced the document. */
  generated_at: number;
  revoked: Record<RevocationClaim, Record<string, number>>;
}

/** Lookup tables built once per feed document; checking a token is at most four map lookups. */
export type RevocationIndex = ReadonlyMap<RevocationClaim, ReadonlyMap<string, number>>;

export function toRevocationIndex(document: RevocationFeedDocument): RevocationIndex {
  return new Map(revocationKinds.map((kind) => [kind, new Map(Object.entries(document.revoked[kind]))]));
}

/**
 * True when the claims match an entry of the index. A revoked `jti` or `sid` (refresh-token family)
 * refuses every token carrying it, whatever its `iat`: no new token can legitimately join a revoked
 * family, and one minted in a race with the revocation must not slip through. `sub` and
 * `client_id` are cut-offs: tokens issued after them (a re-created client) are fine.
 */
export function isRevokedBy(index: RevocationIndex, claims: Readonly<Record<string, unknown>>): boolean {
  const iat = typeof claims.iat === 'number' ? claims.iat : 0;
  for (const [kind, entries] of index) {
    const value = claims[kind];
    if (typeof value !== 'string') continue;
    const revokedAt = entries.get(value);
    if (revokedAt === undefined) continue;
    if (kind === 'jti' || kind === 'sid' || iat <= revokedAt) return true;
  }
  return false;
}

/** Validates a parsed feed document; undefined if it is not one. */
export function parseRevocationFeed(value: unknown): RevocationFeedDocument | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { generated_at: generatedAt, revoked } = value as Record<string, unknown>;
  if (typeof generatedAt !== 'number' || typeof revoked !== 'object' || revoked === null) return undefined;
  const lists = revoked as Record<string, unknown>;
  for (const kind of revocationKinds) {
    const entries = lists[kind];
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) return undefined;
    if (!Object.values(entries).every((time) => typeof time === 'number')) return undefined;
  }
  return value as RevocationFeedDocument;
}
