import { createHash } from 'node:crypto';
import {
  AppError,
  isRevokedBy,
  maxClockToleranceSeconds,
  registerScrapeGauge,
  revocationFeedMaxBytes,
  toRevocationFeedDocument,
  toRevocationIndex,
  type Clock,
  type RevocationFeedDocument,
  type RevocationIndex,
} from '@tessera/shared';
import type { Registry } from 'prom-client';
import { storeCacheTtlMs, type Storage } from '../storage/storage.js';

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
export const issuanceMarginSeconds = Math.ceil(storeCacheTtlMs / 1000);

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
}): RevocationService {
  const { storage, clock, accessTokenTtlSeconds } = deps;
  const nowSeconds = () => Math.floor(clock.now() / 1000);
  // Tokens issued up to `cutOff` can live at most one access-token lifetime more.
  const untilAllExpired = (cutOff: number) => cutOff + accessTokenTtlSeconds + revocationRetentionSeconds;

  /**
   * The feed as served. Rebuilt at once after a write made here (writes bump `generation`, so a
   * snapshot built before one never counts) and whenever an entry it lists has expired; otherwise
   * (revocations made by other replicas) at most once a second, and for a large feed at most once
   * per ten rebuild times, so rebuilding (a synchronous SQLite read, on SQLite) takes at most a
   * tenth of the process however often resource servers poll. While a rebuild runs, a snapshot
   * younger than the feed's max-age is served as is (resource servers may cache it that long
   * anyway), so polls do not queue behind it.
   */
  interface Snapshot {
    generation: number;
    at: number;
    /** Epoch seconds when the first listed entry expires. */
    nextExpiry: number;
    document: RevocationFeedDocument;
    entries: number;
    body: string;
    bytes: number;
    etag: string;
    /** Built on first use: only introspection needs it. */
    index?: RevocationIndex;
  }
  let snapshot: Snapshot | undefined;
  let building: Promise<Snapshot> | undefined;
  let generation = 0;
  /** How long the last rebuild took (wall time: a cost, not a point in time). */
  let lastBuildMs = 0;
  /** Each listed entry's digest, so a rebuild hashes only what is new. */
  const digests = new Map<string, string>();
  async function build(): Promise<Snapshot> {
    const started = generation;
    const startedAt = performance.now();
    const at = clock.now();
    const now = nowSeconds();
    const entries = await storage.revocations.listActive(now);
    const document = toRevocationFeedDocument(entries, now, deps.keySetVersion?.(), digests);
    // The ETag covers the entries and the key set, not generated_at, so an unchanged feed answers 304.
    const etag = `"${createHash('sha256')
      .update(JSON.stringify([document.revoked, document.key_set ?? null]))
      .digest('base64url')}"`;
    const body = JSON.stringify(document);
    const nextExpiry = entries.reduce((first, entry) => Math.min(first, entry.expiresAt), Infinity);
    lastBuildMs = performance.now() - startedAt;
    return {
      generation: started,
      at,
      nextExpiry,
      document,
      entries: entries.length,
      body,
      bytes: Buffer.byteLength(body),
      etag,
    };
  }
  async function latest(): Promise<Snapshot> {
    for (;;) {
      const now = clock.now();
      // A snapshot counts while no write was made here since, none of its entries has expired, and
      // it names the key set in use (a compromise must reach verifiers at their next poll).
      const held =
        snapshot !== undefined &&
        snapshot.generation === generation &&
        now < snapshot.nextExpiry * 1000 &&
        snapshot.document.key_set === deps.keySetVersion?.()
          ? snapshot
          : undefined;
      if (held !== undefined && now - held.at < Math.max(1000, 10 * lastBuildMs)) return held;
      building ??= build()
        .then((built) => {
          if (snapshot === undefined || built.at >= snapshot.at) snapshot = built;
          return built;
        })
        .finally(() => {
          building = undefined;
        });
      if (held !== undefined && now - held.at < revocationFeedMaxAgeSeconds * 1000) return held;
      const built = await building;
      if (built.generation === generation) return built;
    }
  }
  const changed = () => {
    generation += 1;
  };

  async function checkQuota(clientId: string): Promise<void> {
    if ((await storage.revocations.countForClient(clientId, nowSeconds())) < revocationQuotaPerClient) return;
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
        // Signed-in browsers too: the user must sign in again (and cannot while disabled).
        await tx.browserSessions.endForUser(userId, clock.now());
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
        const families = await tx.refreshTokens.listLiveFamiliesForClient(clientId);
        await tx.refreshTokens.deleteForClient(clientId);
        // A client registered later under the same id must not inherit what users allowed this one.
        await tx.consents.deleteForClient(clientId);
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
        // Tokens exchanged from this client's tokens (RFC 8693) carry another client_id, the
        // actor's: they keep the subject's `sid` (a user session of this client) or its `sub`
        // (this client's id, for a client_credentials token), which these entries reach.
        await tx.revocations.upsert({
          kind: 'sub',
          value: clientId,
          clientId: null,
          revokedAt: cutOff,
          expiresAt: untilAllExpired(cutOff),
        });
        for (const familyId of families)
          await tx.revocations.upsert({
            kind: 'sid',
            value: familyId,
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
      const current = await latest();
      current.index ??= toRevocationIndex(current.document);
      return isRevokedBy(current.index, claims);
    },
    async feed() {
      const { body, etag } = await latest();
      return { body, etag };
    },
    async feedSize() {
      const { bytes, entries } = await latest();
      return { bytes, entries };
    },
  };
}

/**
 * The feed's size against the verifiers' limit, so an alert fires long before a feed too large
 * to load would freeze every resource server on its last list (docs/architecture.md, "Revocation").
 */
export function registerRevocationMetrics(registry: Registry, revocations: RevocationService): void {
  registerScrapeGauge(registry, {
    name: 'tessera_revocation_feed_bytes',
    help: 'Size of the revocation feed document in bytes',
    read: async () => (await revocations.feedSize()).bytes,
  });
  registerScrapeGauge(registry, {
    name: 'tessera_revocation_feed_max_bytes',
    help: 'The largest revocation feed verifiers read; alert well before tessera_revocation_feed_bytes reaches it',
    read: () => revocationFeedMaxBytes,
  });
  registerScrapeGauge(registry, {
    name: 'tessera_revocation_feed_entries',
    help: 'Entries in the revocation feed',
    read: async () => (await revocations.feedSize()).entries,
  });
}
