import { createAuditTrail } from '../src/audit.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createFixedClock, createLogger } from '@tessera/shared';
import {
  StorageConflictError,
  type ClientRecord,
  type RefreshTokenRecord,
  type Storage,
} from '../src/storage/storage.js';
import { createRefreshTokenService, digestRefreshToken } from '../src/tokens/refresh-tokens.js';
import { createRevocationService } from '../src/tokens/revocations.js';
import { testDialects, type TestDatabase } from './dialects.js';

/**
 * The storage contract (storage/storage.ts), run on every dialect: SQLite always and
 * PostgreSQL when TEST_DATABASE_URL is set. Two handles on one database stand for two
 * auth-server replicas.
 */
for (const { dialect, enabled } of testDialects()) {
  (enabled ? describe : describe.skip)(`storage contract on ${dialect.name}`, () => {
    let database: TestDatabase;
    let one: Storage;
    let two: Storage;
    const now = Date.UTC(2026, 5, 1);

    beforeAll(async () => {
      database = await dialect.create();
      one = await database.open();
      // Migrating again from a second replica is a no-op.
      two = await database.open();
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      await database?.drop();
    });

    const refreshRecord = (overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
      id: randomUUID(),
      familyId: randomUUID(),
      clientId: 'app',
      userId: 'user-1',
      scope: ['a', 'b'],
      resources: ['https://api.test'],
      createdAt: now,
      expiresAt: now + 3_600_000,
      idleExpiresAt: now + 1_800_000,
      consumedAt: null,
      successorId: null,
      revokedAt: null,
      ...overrides,
    });

    it('users: insert, find by name and id, disable; a duplicate username is a conflict', async () => {
      const user = {
        id: randomUUID(),
        username: 'ana',
        passwordHash: 'h',
        scopes: ['a'],
        disabled: false,
        createdAt: now,
      };
      await one.users.insert(user);
      expect(await two.users.findByUsername('ana')).toEqual(user);
      expect(await two.users.findById(user.id)).toEqual(user);
      expect(await one.users.findByUsername('nobody')).toBeUndefined();
      await expect(two.users.insert({ ...user, id: randomUUID() })).rejects.toBeInstanceOf(
        StorageConflictError,
      );
      expect((await one.users.setDisabled('ana', true))?.disabled).toBe(true);
      expect(await one.users.setDisabled('nobody', true)).toBeUndefined();
      // Epoch-millisecond timestamps come back as numbers on every dialect.
      expect(typeof (await two.users.findById(user.id))?.createdAt).toBe('number');
    });

    it('clients: insert, find, delete; a duplicate id is a conflict', async () => {
      const client: ClientRecord = {
        clientId: 'app-1',
        secretDigest: 'ab'.repeat(32),
        isPublic: false,
        grants: ['password', 'refresh_token'],
        scopes: ['a', 'b'],
        resources: [],
        createdAt: now,
        jwks: null,
        redirectUris: [],
        postLogoutRedirectUris: [],
        firstParty: false,
      };
      await one.clients.insert(client);
      expect(await two.clients.find('app-1')).toEqual(client);
      await expect(one.clients.insert(client)).rejects.toBeInstanceOf(StorageConflictError);
      expect(await two.clients.delete('app-1')).toBe(true);
      expect(await two.clients.delete('app-1')).toBe(false);
      expect(await one.clients.find('app-1')).toBeUndefined();
    });

    it('resources: insert, find, list, served-by, update; client lists; deletes clean up both ways', async () => {
      const notes = {
        uri: 'https://notes.test',
        scopes: ['n:r', 'n:w'],
        serverClientId: 'notes-svc',
        createdAt: now,
      };
      const other = { uri: 'urn:other', scopes: ['o'], serverClientId: null, createdAt: now };
      await one.resources.insert(notes);
      await one.resources.insert(other);
      await expect(two.resources.insert(notes)).rejects.toBeInstanceOf(StorageConflictError);
      expect(await two.resources.find(notes.uri)).toEqual(notes);
      expect((await two.resources.list()).map((r) => r.uri)).toEqual(['https://notes.test', 'urn:other']);
      expect(await two.resources.listServedBy('notes-svc')).toEqual([notes]);
      expect(
        await two.resources.update('urn:other', { serverClientId: 'notes-svc', scopes: ['o', 'p'] }),
      ).toEqual({
        ...other,
        serverClientId: 'notes-svc',
        scopes: ['o', 'p'],
      });
      expect(await two.resources.update('urn:none', { scopes: ['x'] })).toBeUndefined();

      const client = (clientId: string, resources: string[]): ClientRecord => ({
        clientId,
        secretDigest: 'ab'.repeat(32),
        isPublic: false,
        grants: ['client_credentials'],
        scopes: [],
        resources,
        createdAt: now,
        jwks: null,
        redirectUris: [],
        postLogoutRedirectUris: [],
        firstParty: false,
      });
      await one.clients.insert(client('notes-svc', []));
      await one.clients.insert(client('caller', ['urn:other', 'https://notes.test']));
      expect((await two.clients.find('caller'))?.resources).toEqual(['https://notes.test', 'urn:other']);
      expect(await two.clients.setResources('caller', ['urn:other'])).toBe(true);
      expect(await two.clients.setResources('nobody', ['urn:other'])).toBe(false);
      expect((await one.clients.list()).find((c) => c.clientId === 'caller')?.resources).toEqual([
        'urn:other',
      ]);

      // Deleting a resource takes it off every client; deleting a client un-serves its resources.
      expect(await two.resources.delete('urn:other')).toBe(true);
      expect(await two.resources.delete('urn:other')).toBe(false);
      expect((await one.clients.find('caller'))?.resources).toEqual([]);
      expect(await one.clients.delete('notes-svc')).toBe(true);
      expect((await two.resources.find(notes.uri))?.serverClientId).toBeNull();
      await one.clients.delete('caller');
      await one.resources.delete(notes.uri);
    });

    it('signing keys: at most one active key, whichever replica inserts it', async () => {
      const key = (kid: string) => ({
        kid,
        state: 'active' as const,
        alg: 'RS256' as const,
        publicJwk: { kty: 'RSA' as const, n: 'n', e: 'AQAB' },
        privateKeyEncrypted: 'v1.x.y.z',
        createdAt: now,
        activatedAt: now,
        retiringAt: null,
        retiredAt: null,
        compromisedAt: null,
      });
      const results = await Promise.allSettled([one.keys.insert(key('k1')), two.keys.insert(key('k2'))]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected');
      expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(StorageConflictError);
      expect((await one.keys.list()).filter((k) => k.state === 'active')).toHaveLength(1);
    });

    it('refresh tokens: markConsumed succeeds once, whichever replica tries', async () => {
      const record = refreshRecord();
      await one.refreshTokens.insert(record);
      const attempts = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? one : two).refreshTokens.markConsumed(record.id, `s${i}`, now),
        ),
      );
      expect(attempts.filter(Boolean)).toHaveLength(1);
      const stored = await two.refreshTokens.find(record.id);
      expect(stored?.consumedAt).toBe(now);
      expect(stored?.successorId).toBe(`s${attempts.indexOf(true)}`);
    });

    it('refresh tokens: revoking a family, a user, and deleting a client', async () => {
      const family = randomUUID();
      await one.refreshTokens.insert(refreshRecord({ familyId: family, userId: 'u-2' }));
      await one.refreshTokens.insert(refreshRecord({ familyId: family, userId: 'u-2', createdAt: now + 1 }));
      expect(await two.refreshTokens.revokeFamily(family, now)).toBe(2);
      expect(await two.refreshTokens.revokeFamily(family, now)).toBe(0);
      expect((await one.refreshTokens.listFamily(family)).every((r) => r.revokedAt === now)).toBe(true);

      const otherFamily = randomUUID();
      await one.refreshTokens.insert(refreshRecord({ familyId: otherFamily, userId: 'u-3' }));
      expect(await two.refreshTokens.revokeForUser('u-3', now)).toEqual([otherFamily]);

      const gone = refreshRecord({ clientId: 'doomed' });
      await one.refreshTokens.insert(gone);
      await two.refreshTokens.deleteForClient('doomed');
      expect(await one.refreshTokens.find(gone.id)).toBeUndefined();
    });

    it('prune deletes only expired refresh tokens and revocations', async () => {
      const expired = refreshRecord({ expiresAt: now - 1 });
      const idle = refreshRecord({ idleExpiresAt: now - 1 });
      const live = refreshRecord();
      for (const record of [expired, idle, live]) await one.refreshTokens.insert(record);
      expect(await two.refreshTokens.prune(now)).toBeGreaterThanOrEqual(2);
      expect(await one.refreshTokens.find(expired.id)).toBeUndefined();
      expect(await one.refreshTokens.find(idle.id)).toBeUndefined();
      expect(await one.refreshTokens.find(live.id)).toBeDefined();

      await one.revocations.upsert({
        kind: 'jti',
        value: 'old',
        clientId: null,
        revokedAt: 10,
        expiresAt: 20,
      });
      await one.revocations.upsert({
        kind: 'jti',
        value: 'current',
        clientId: null,
        revokedAt: 10,
        expiresAt: 10_000,
      });
      expect(await two.revocations.prune(20)).toBeGreaterThanOrEqual(1);
      const left = (await one.revocations.listActive(0)).map((entry) => entry.value);
      expect(left).toContain('current');
      expect(left).not.toContain('old');
      // Leave the table as the other tests expect it.
      await two.revocations.prune(10_000);
      expect(await one.revocations.listActive(0)).toEqual([]);
    });

    it('a transaction that fails writes nothing', async () => {
      const record = refreshRecord();
      await expect(
        one.transaction(async (tx) => {
          await tx.refreshTokens.insert(record);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await two.refreshTokens.find(record.id)).toBeUndefined();
    });

    it('revocations: upsert keeps the later times; expired entries leave the list', async () => {
      await one.revocations.upsert({
        kind: 'jti',
        value: 'j1',
        clientId: 'c1',
        revokedAt: 100,
        expiresAt: 200,
      });
      await two.revocations.upsert({
        kind: 'jti',
        value: 'j1',
        clientId: 'c1',
        revokedAt: 50,
        expiresAt: 300,
      });
      await two.revocations.upsert({
        kind: 'sub',
        value: 'u1',
        clientId: null,
        revokedAt: 120,
        expiresAt: 150,
      });
      expect(await one.revocations.listActive(149)).toEqual([
        { kind: 'jti', value: 'j1', clientId: 'c1', revokedAt: 100, expiresAt: 300 },
        { kind: 'sub', value: 'u1', clientId: null, revokedAt: 120, expiresAt: 150 },
      ]);
      expect(await one.revocations.listActive(150)).toEqual([
        { kind: 'jti', value: 'j1', clientId: 'c1', revokedAt: 100, expiresAt: 300 },
      ]);
    });

    it('revocations: countForClient counts the live entries a client added', async () => {
      await one.revocations.upsert({
        kind: 'jti',
        value: 'q1',
        clientId: 'quota',
        revokedAt: 1,
        expiresAt: 500,
      });
      await one.revocations.upsert({
        kind: 'sid',
        value: 'q2',
        clientId: 'quota',
        revokedAt: 1,
        expiresAt: 600,
      });
      await one.revocations.upsert({
        kind: 'jti',
        value: 'q3',
        clientId: 'elsewhere',
        revokedAt: 1,
        expiresAt: 600,
      });
      expect(await two.revocations.countForClient('quota', 499)).toBe(2);
      expect(await two.revocations.countForClient('quota', 500)).toBe(1);
      expect(await two.revocations.countForClient('nobody', 0)).toBe(0);
      await two.revocations.prune(10_000);
    });

    it('20 concurrent refreshes of one token across two replicas: one successor, one live token', async () => {
      const logger = createLogger({ name: 'test', level: 'silent' });
      const clock = createFixedClock(now);
      const policy = { ttlSeconds: 3600, idleTtlSeconds: 1800, reuseGraceSeconds: 10 };
      // Two replicas are two processes. Two SQLite handles in one process would deadlock: a
      // writer waiting on the file lock blocks the event loop the lock holder needs to commit.
      // So on SQLite both services share one handle (Kysely serialises its transactions); the
      // cross-process case is what PostgreSQL (and markConsumed above) exercise.
      const replicas = dialect.name === 'sqlite' ? [one, one] : [one, two];
      const [a, b] = replicas.map((storage) =>
        createRefreshTokenService({
          storage,
          revocations: createRevocationService({ storage, clock, accessTokenTtlSeconds: 900 }),
          clock,
          audit: createAuditTrail(logger),
          policy,
          secret: 'contract-secret-contract-secret-0123',
        }),
      );
      const userId = randomUUID();
      await one.users.insert({
        id: userId,
        username: `u-${userId}`,
        passwordHash: 'h',
        scopes: ['a'],
        disabled: false,
        createdAt: now,
      });
      const client: ClientRecord = {
        clientId: 'app',
        secretDigest: null,
        isPublic: true,
        grants: ['password', 'refresh_token'],
        scopes: ['a'],
        resources: [],
        createdAt: now,
        jwks: null,
        redirectUris: [],
        postLogoutRedirectUris: [],
        firstParty: false,
      };
      const { token, familyId } = await a!.issue({
        clientId: 'app',
        userId,
        scope: ['a'],
        resources: ['https://api.test'],
      });

      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a! : b!).rotate(token, client)),
      );
      const successors = new Set(outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value.token));
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected')
          expect((outcome.reason as { code?: string }).code).toBe('invalid_grant');
      }
      expect(successors.size).toBe(1);
      const rows = await one.refreshTokens.listFamily(familyId);
      const live = rows.filter((row) => row.consumedAt === null && row.revokedAt === null);
      expect(live.map((row) => row.id)).toEqual([digestRefreshToken([...successors][0]!)]);
    });
  });
}
