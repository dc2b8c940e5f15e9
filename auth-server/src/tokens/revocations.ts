import { createHash } from 'node:crypto';
import {
  AppError,
  isRevokedBy,
  maxClockToleranceSeconds,
  revocationFeedMaxBytes,
  toRevocationFeedDocument,
  toRevocationIndex,
  type Clock,
  type RevocationIndex,
} from '@tessera/shared';
import { Gauge, type Registry } from 'prom-client';
import { clientCacheTtlMs } from '../clients/client-cache.js';
import type { Storage } from '../storage/storage.js';

/** How long resource servers may cache the feed; they poll it on their own interval anyway. */
export const revocationFeedMaxAgeSeconds = 5;

/**
 * How long an entry outlives the last token it can match: the largest clock tolerance any
 * verifier may allow past `exp` (a verifier refuses a larger CLOCK_TOLERANCE).
 */
export const revocationRetentionSeconds = maxClockToleranceSeconds;

/**
 * How far past "now" a user or client cut-off lies. A token request that passed its checks
 * (the user not disabled, the client found, possibly in a replica's client cache) just before
 * the revocation may still sign a token a moment later; that token is covered too.
 */
export const issuanceMarginSeconds = Math.ceil(clientCacheTtlMs / 1000);

/**
 * Live feed entries (revoked tokens and families) one client may add through `/oauth/revoke`.
 * With it, the feed's size is bounded by the number of clients, not by how often they call:
 * 1,000 entries are 16 KB of feed, so about 500 clients at their full quota fit the verifiers'
 * limit. Past it the client gets 503 (RFC 7009 §2.2.1: retry later) until entries expire.
 */
export const revocationQuotaPerClient = 1000;

export interface RevocationService {
  /**
   * RFC 7009 for an access token its client presents. One minted from a refresh token (it carries
   * `sid`) revokes its whole family (§2.1 allows it): one entry covers it and every other token of
   * that session. Others are denied by `jti` until they expire. Both count against the client's
   * quota; over it, `AppError('temporarily_unavailable')`.
   */
  revokeAccessToken(
    claims: { jti: string; exp: number; sid?: unknown },
    clientId: string,
  ): Promise<'family' | 'token'>;
  /**
   * Revokes a refresh-token family and every access token minted from it (its `sid`), in one
   * transaction. `quota`: a client's own request (`/oauth/revoke`), refused over its quota;
   * revocations we decide (reuse detected, user disabled) are never refused.
   */
  revokeFamily(familyId: string, clientId: string, options?: { quota?: boolean }): Promise<void>;
  /** Revokes a user's refresh tokens and every access token issued to them until now + the margin. */
  revokeUser(userId: string): Promise<void>;
  /** Deletes a client with its refresh tokens, and refuses every access token issued to it until now + the margin. */
  deleteClient(clientId: string): Promise<boolean>;
  /** Whether verified access-token claims are revoked (for introspection). */
  isRevoked(claims: Readonly<Record<string, unknown>>): Promise<boolean>;
  /** The feed resource servers poll: a document and its strong ETag. */
  feed(): Promise<{ body: string; etag: string }>;
  /** The feed's current size and entry count (for metrics). */
  feedSize(): Promise<{ bytes: number; entries: number }>;
}

/**
 * Revocation that reaches stateless resource servers: each revocation is stored as an entry
 * that lives as long as the tokens it can match, and published as a feed of digests (see
 * shared's feed-document.ts for the format and how entries match tokens).
 */
export function createRevocationService(deps: {
  storage: Storage;
  clock: Clock;
  accessTokenTtlSeconds: number;
  /** The key set's version (the JWKS ETag), announced in the feed so verifiers refetch at once. */
  keySetVersion?: () => string | undefined;
  quotaPerClient?: number;
}): RevocationService {
  const { storage, clock, accessTokenTtlSeconds } = deps;
  const quotaPerClient = deps.quotaPerClient ?? revocationQuotaPerClient;
  const nowSeconds = () => Math.floor(clock.now() / 1000);
  // Tokens issued up to `cutOff` can live at most one access-token lifetime more.
  const untilAllExpired = (cutOff: number) => cutOff + accessTokenTtlSeconds + revocationRetentionSeconds;

  /**
   * The feed as served and the index introspection checks, built at most once a second (the
   * feed is public and polled by every resource server) and again after any write made here.
   */
  let snapshot: { at: number; index: RevocationIndex; body: string; bytes: number; etag: string } | undefined;
  let building: Promise<NonNullable<typeof snapshot>> | undefined;
  /** Each listed entry's digest, so a rebuild hashes only what is new. */
  const digests = new Map<string, string>();
  async function build(): Promise<NonNullable<typeof snapshot>> {
    const at = clock.now();
    const now = nowSeconds();
    const entries = await storage.revocations.listActive(now);
    const document = toRevocationFeedDocument(entries, now, deps.keySetVersion?.(), digests);
    // The ETag covers the entries and the key set, not generated_at, so an unchanged feed answers 304.
    const etag = `"${createHash('sha256')
      .update(JSON.stringify([document.revoked, document.key_set ?? null]))
      .digest('base64url')}"`;
    const body = JSON.stringify(document);
    return { at, index: toRevocationIndex(document), body, bytes: Buffer.byteLength(body), etag };
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

  async function checkQuota(clientId: string): Promise<void> {
    if ((await storage.revocations.countForClient(clientId, nowSeconds())) < quotaPerClient) return;
    throw new AppError(
      'temporarily_unavailable',
      'this client has reached its revocation quota; retry once its earlier revocations expire',
      { headers: { 'Retry-After': '60' } },
    );
  }

  async function revokeFamily(familyId: string, clientId: string, quota = false): Promise<void> {
    if (quota) await checkQuota(clientId);
    await storage.transaction(async (tx) => {
      await tx.refreshTokens.revokeFamily(familyId, clock.now());
      // A rotation that held the consumed row's lock while the first pass waited may have added a
      // successor this statement's snapshot (READ COMMITTED) could not see: a second pass does.
      await tx.refreshTokens.revokeFamily(familyId, clock.now());
      await tx.revocations.upsert({
        kind: 'sid',
        value: familyId,
        clientId,
        revokedAt: nowSeconds(),
        expiresAt: untilAllExpired(nowSeconds()),
      });
    });
    changed();
  }

  return {
    async revokeAccessToken(claims, clientId) {
      if (typeof claims.sid === 'string' && claims.sid !== '') {
        await revokeFamily(claims.sid, clientId, true);
        return 'family';
      }
      await checkQuota(clientId);
      await storage.revocations.upsert({
        kind: 'jti',
        value: claims.jti,
        clientId,
        revokedAt: nowSeconds(),
        // Verifiers accept the token until exp + their clock tolerance.
        expiresAt: claims.exp + revocationRetentionSeconds,
      });
      changed();
      return 'token';
    },
    revokeFamily: (familyId, clientId, options) => revokeFamily(familyId, clientId, options?.quota),
    async revokeUser(userId) {
      await storage.transaction(async (tx) => {
        await tx.refreshTokens.revokeForUser(userId, clock.now());
        // As for a family: a successor rotated while the first pass waited on its parent's lock.
        await tx.refreshTokens.revokeForUser(userId, clock.now());
        const cutOff = nowSeconds() + issuanceMarginSeconds;
        await tx.revocations.upsert({
          kind: 'sub',
          value: userId,
          clientId: null,
          revokedAt: cutOff,
          expiresAt: untilAllExpired(cutOff),
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
        const cutOff = nowSeconds() + issuanceMarginSeconds;
        await tx.revocations.upsert({
          kind: 'client_id',
          value: clientId,
          clientId: null,
          revokedAt: cutOff,
          expiresAt: untilAllExpired(cutOff),
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
    async feedSize() {
      const { bytes, index } = await latest();
      return { bytes, entries: index.size };
    },
  };
}

/**
 * The feed's size against the verifiers' limit, so an alert fires long before a feed too large
 * to load would freeze every resource server on its last list (README, "Revocation").
 */
export function registerRevocationMetrics(registry: Registry, revocations: RevocationService): void {
  new Gauge({
    name: 'tessera_revocation_feed_bytes',
    help: 'Size of the revocation feed document in bytes',
    registers: [registry],
    async collect() {
      this.set((await revocations.feedSize()).bytes);
    },
  });
  new Gauge({
    name: 'tessera_revocation_feed_max_bytes',
    help: 'The largest revocation feed verifiers read; alert well before tessera_revocation_feed_bytes reaches it',
    registers: [registry],
    collect() {
      this.set(revocationFeedMaxBytes);
    },
  });
  new Gauge({
    name: 'tessera_revocation_feed_entries',
    help: 'Entries in the revocation feed',
    registers: [registry],
    async collect() {
      this.set((await revocations.feedSize()).entries);
    },
  });
}
