import { createHash, createHmac, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { AppError, type Clock } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import type { ClientRecord, RefreshTokenRecord, Storage } from '../storage/storage.js';
import type { RevocationService } from './revocations.js';

export interface RefreshTokenPolicy {
  /** Absolute lifetime of a family, from the password grant that started it. */
  ttlSeconds: number;
  /** A token unused for this long expires. */
  idleTtlSeconds: number;
  /** How long a just-consumed token may be presented again and get the same successor. */
  reuseGraceSeconds: number;
}

export interface RotatedRefreshToken {
  token: string;
  familyId: string;
  userId: string;
  /** The scope of the family (RFC 6749 §6: a new refresh token keeps the original scope). */
  scope: readonly string[];
  /** The user's scopes now, as read for this rotation (the grant narrows to them; no second read). */
  userScopes: readonly string[];
}

export interface RefreshTokenService {
  /** Starts a new family (for a password grant or an authorization code, whose grant id it may take). */
  issue(input: {
    clientId: string;
    userId: string;
    scope: readonly string[];
    resources: readonly string[];
    familyId?: string;
  }): Promise<{
    token: string;
    familyId: string;
  }>;
  /**
   * Consumes a refresh token and returns its successor (RFC 9700 §4.14.2 rotation). A repeat
   * within the grace window returns the same successor; any other reuse revokes the family.
   * Throws `invalid_grant` for anything that is not a live token of this client. `check` sees
   * the live record before anything changes; what it throws is the answer, the token unspent.
   */
  rotate(
    token: string,
    client: ClientRecord,
    check?: (record: RefreshTokenRecord) => Promise<void>,
  ): Promise<RotatedRefreshToken>;
  /** The live record for a token, or undefined (unknown, consumed, revoked or expired). */
  findLive(token: string): Promise<RefreshTokenRecord | undefined>;
  /** The family of a token issued to this client, in whatever state; undefined otherwise. */
  familyOf(token: string, clientId: string): Promise<string | undefined>;
}

/** Refresh tokens are 256 random bits (or an HMAC of that size), base64url. */
const tokenPattern = /^[A-Za-z0-9_-]{43}$/;

export function digestRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function createRefreshTokenService(deps: {
  storage: Storage;
  revocations: RevocationService;
  clock: Clock;
  audit: AuditTrail;
  policy: RefreshTokenPolicy;
  /** The key-encryption secret; a separate key is derived from it for successor tokens. */
  secret: string;
}): RefreshTokenService {
  const { storage, revocations, clock, audit, policy } = deps;
  // The successor of a token is an HMAC of it, so every presentation of the same consumed
  // token yields the same successor without storing any token: retries and concurrent
  // refreshes converge on one branch instead of forking the family.
  const successorKey = Buffer.from(
    hkdfSync('sha256', deps.secret, 'tessera', 'refresh-token-successor/v1', 32),
  );
  const successorOf = (token: string) => createHmac('sha256', successorKey).update(token).digest('base64url');

  const isLive = (record: RefreshTokenRecord, now: number) =>
    record.consumedAt === null &&
    record.revokedAt === null &&
    now < record.expiresAt &&
    now < record.idleExpiresAt;

  const invalid = (description = 'refresh token is invalid, expired or revoked') =>
    new AppError('invalid_grant', description);

  async function suspectedTheft(record: RefreshTokenRecord): Promise<never> {
    await revocations.revokeFamily(record.familyId, record.clientId);
    // A rotated-away token presented after the grace window: the family is revoked (suspected theft).
    audit.record(
      'refresh.reuse_detected',
      { family_id: record.familyId, client_id: record.clientId, sub: record.userId },
      'warn',
    );
    throw invalid();
  }

  return {
    async issue({ clientId, userId, scope, resources, familyId = randomUUID() }) {
      const token = randomBytes(32).toString('base64url');
      const now = clock.now();
      await storage.refreshTokens.insert({
        id: digestRefreshToken(token),
        familyId,
        clientId,
        userId,
        scope,
        resources,
        createdAt: now,
        expiresAt: now + policy.ttlSeconds * 1000,
        idleExpiresAt: now + policy.idleTtlSeconds * 1000,
        consumedAt: null,
        successorId: null,
        revokedAt: null,
      });
      return { token, familyId };
    },

    async rotate(token, client, check) {
      if (!tokenPattern.test(token)) throw invalid();
      const id = digestRefreshToken(token);
      const record = await storage.refreshTokens.find(id);
      // RFC 6749 §6: the token must have been issued to the authenticated client.
      if (record === undefined || record.clientId !== client.clientId) throw invalid();
      const now = clock.now();
      if (record.revokedAt !== null) throw invalid();
      if (now >= record.expiresAt || now >= record.idleExpiresAt) throw invalid('refresh token expired');

      const user = await storage.users.findById(record.userId);
      if (user === undefined || user.disabled) {
        await revocations.revokeFamily(record.familyId, record.clientId);
        throw invalid();
      }
      await check?.(record);

      const successor = successorOf(token);
      const successorId = digestRefreshToken(successor);
      const result = {
        token: successor,
        familyId: record.familyId,
        userId: record.userId,
        scope: record.scope,
        userScopes: user.scopes,
      };
      if (record.consumedAt === null) {
        // One conditional update plus the successor's insert, in one transaction: of any
        // number of concurrent refreshes (in any number of processes) exactly one wins.
        const won = await storage.transaction(async (tx) => {
          if (!(await tx.refreshTokens.markConsumed(id, successorId, now))) return false;
          await tx.refreshTokens.insert({
            ...record,
            id: successorId,
            createdAt: now,
            idleExpiresAt: Math.min(record.expiresAt, now + policy.idleTtlSeconds * 1000),
            consumedAt: null,
            successorId: null,
          });
          return true;
        });
        if (won) return result;
      }

      // Consumed already: a retry or a concurrent refresh within the grace window gets the
      // same successor (even if that was already used in turn: presenting it then lands in
      // its own grace window, so the chain converges); anything else is reuse (RFC 9700 §4.14.2).
      const consumed = await storage.refreshTokens.find(id);
      const next = await storage.refreshTokens.find(successorId);
      const withinGrace =
        consumed?.consumedAt != null &&
        consumed.successorId === successorId &&
        now - consumed.consumedAt <= policy.reuseGraceSeconds * 1000;
      if (withinGrace && next !== undefined && next.revokedAt === null && now < next.expiresAt) {
        audit.record('refresh.concurrent', { family_id: record.familyId, client_id: record.clientId });
        return result;
      }
      return suspectedTheft(consumed ?? record);
    },

    async findLive(token) {
      if (!tokenPattern.test(token)) return undefined;
      const record = await storage.refreshTokens.find(digestRefreshToken(token));
      return record !== undefined && isLive(record, clock.now()) ? record : undefined;
    },

    async familyOf(token, clientId) {
      if (!tokenPattern.test(token)) return undefined;
      const record = await storage.refreshTokens.find(digestRefreshToken(token));
      return record?.clientId === clientId ? record.familyId : undefined;
    },
  };
}
