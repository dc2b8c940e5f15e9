import { createHash } from 'node:crypto';
import {
  isRevokedBy,
  revocationKinds,
  toRevocationIndex,
  type Clock,
  type RevocationFeedDocument,
  type RevocationIndex,
} from '@tessera/shared';
import { clientCacheTtlMs } from '../clients/client-cache.js';
import type { Storage } from '../storage/storage.js';

/** How long resource servers may cache the feed; they poll it on their own interval anyway. */
export const revocationFeedMaxAgeSeconds = 5;

/** Clock skew allowed between us and resource servers, added to every entry's lifetime. */
const skewSeconds = 60;

export interface RevocationService {
  /** Denies one access token until it expires (RFC 7009 for a JWT: its jti). */
  denyAccessToken(jti: string, expSeconds: number): Promise<void>;
  /** Revokes a refresh-token family and every access token minted from it (its `sid`), in one transaction. */
  revokeFamily(familyId: string): Promise<void>;
  /** Revokes a user's refresh tokens and every access token issued to them until now. */
  revokeUser(userId: string): Promise<void>;
  /** Deletes a client with its refresh tokens, and refuses every access token issued to it until now. */
  deleteClient(clientId: string): Promise<boolean>;
  /** Whether verified access-token claims are revoked (for introspection). */
  isRevoked(claims: Readonly<Record<string, unknown>>): Promise<boolean>;
  /** The feed resource servers poll: a document and its strong ETag. */
  feed(): Promise<{ body: string; etag: string }>;
}

/**
 * Revocation that reaches stateless resource servers: each revocation is stored as an entry
 * that lives as long as the tokens it can match, and published as a feed (see shared's
 * feed-document.ts for how entries match tokens).
 */
export function createRevocationService(deps: {
  storage: Storage;
  clock: Clock;
  accessTokenTtlSeconds: number;
}): RevocationService {
  const { storage, clock, accessTokenTtlSeconds } = deps;
  const nowSeconds = () => Math.floor(clock.now() / 1000);
  // Tokens issued up to now can live at most one access-token lifetime more.
  const untilAllExpired = () => nowSeconds() + accessTokenTtlSeconds + skewSeconds;

  async function document(): Promise<RevocationFeedDocument> {
    const now = nowSeconds();
    const entries = await storage.revocations.listActive(now);
    // Object.fromEntries defines own properties, so a value like "__proto__" stays an entry.
    const revoked = Object.fromEntries(
      revocationKinds.map((kind) => [
        kind,
        Object.fromEntries(
          entries.filter((entry) => entry.kind === kind).map((entry) => [entry.value, entry.revokedAt]),
        ),
      ]),
    ) as RevocationFeedDocument['revoked'];
    return { generated_at: now, revoked };
  }

  /**
   * The feed as served and the index introspection checks, built at most once a second (the
   * feed is public and polled by every resource server) and again after any write made here.
   */
  let snapshot: { at: number; index: RevocationIndex; body: string; etag: string } | undefined;
  let building: Promise<NonNullable<typeof snapshot>> | undefined;
  async function build(): Promise<NonNullable<typeof snapshot>> {
    const at = clock.now();
    const current = await document();
    // The ETag covers the entries, not generated_at, so an unchanged feed answers 304.
    const etag = `"${createHash('sha256').update(JSON.stringify(current.revoked)).digest('base64url')}"`;
    return { at, index: toRevocationIndex(current), body: JSON.stringify(current), etag };
  }
  async function latest(): Promise<NonNullable<typeof snapshot>> {
    if (snapshot !== undefined && clock.now() - snapshot.at < 1000) return snapshot;
    building ??= build().finally(() => {
      building = undefined;
    });
    snapshot = await building;
    return snapshot;
  }
  const changed = () => {
    snapshot = undefined;
  };

  return {
    async denyAccessToken(jti, expSeconds) {
      await storage.revocations.upsert({
        kind: 'jti',
        value: jti,
        revokedAt: nowSeconds(),
        expiresAt: expSeconds + skewSeconds,
      });
      changed();
    },
    async revokeFamily(familyId) {
      await storage.transaction(async (tx) => {
        await tx.refreshTokens.revokeFamily(familyId, clock.now());
        // A rotation that held the consumed row's lock while the first pass waited may have added a
        // successor this statement's snapshot (READ COMMITTED) could not see: a second pass does.
        await tx.refreshTokens.revokeFamily(familyId, clock.now());
        await tx.revocations.upsert({
          kind: 'sid',
          value: familyId,
          revokedAt: nowSeconds(),
          expiresAt: untilAllExpired(),
        });
      });
      changed();
    },
    async revokeUser(userId) {
      await storage.transaction(async (tx) => {
        await tx.refreshTokens.revokeForUser(userId, clock.now());
        await tx.revocations.upsert({
          kind: 'sub',
          value: userId,
          revokedAt: nowSeconds(),
          expiresAt: untilAllExpired(),
        });
      });
      changed();
    },
    async deleteClient(clientId) {
      const deleted = await storage.transaction(async (tx) => {
        if (!(await tx.clients.delete(clientId))) return false;
        await tx.refreshTokens.deleteForClient(clientId);
        // Replicas (and this process, for another client) may serve the deleted client from their
        // client cache a little longer: tokens they issue meanwhile are covered too.
        await tx.revocations.upsert({
          kind: 'client_id',
          value: clientId,
          revokedAt: nowSeconds() + Math.ceil(clientCacheTtlMs / 1000),
          expiresAt: untilAllExpired() + Math.ceil(clientCacheTtlMs / 1000),
        });
        return true;
      });
      changed();
      return deleted;
    },
    async isRevoked(claims) {
      return isRevokedBy((await latest()).index, claims);
    },
    async feed() {
      const { body, etag } = await latest();
      return { body, etag };
    },
  };
}
