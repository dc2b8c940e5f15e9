import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AuthorizationCodeRecord, BrowserSessionRecord, Storage } from '../src/storage/storage.js';
import { testDialects, type TestDatabase } from './dialects.js';

/**
 * The sign-in tables of the storage contract (authorization codes, browser sessions, consents) on
 * every dialect; two handles on one database stand for two replicas.
 */
for (const { dialect, enabled } of testDialects()) {
  (enabled ? describe : describe.skip)(`sign-in storage on ${dialect.name}`, () => {
    let database: TestDatabase;
    let one: Storage;
    let two: Storage;
    const now = Date.UTC(2026, 5, 1);

    beforeAll(async () => {
      database = await dialect.create();
      one = await database.open();
      two = await database.open();
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      await database?.drop();
    });

    const code = (overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord => ({
      id: randomUUID(),
      grantId: randomUUID(),
      clientId: 'spa',
      userId: 'user-1',
      redirectUri: 'https://app.example/cb',
      codeChallenge: 'c'.repeat(43),
      scope: ['openid', 'notes:read'],
      nonce: 'n-1',
      sessionId: randomUUID(),
      authTime: now - 5000,
      createdAt: now,
      expiresAt: now + 60_000,
      consumedAt: null,
      resources: ['https://api.example'],
      ...overrides,
    });

    it('a code is consumed once: of concurrent redemptions on two replicas exactly one is first', async () => {
      const record = code();
      await one.authorizationCodes.insert(record);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? one : two).authorizationCodes.consume(record.id, 'spa', now),
        ),
      );
      expect(results.filter((result) => result?.first === true)).toHaveLength(1);
      for (const result of results) expect(result?.record).toEqual({ ...record, consumedAt: now });
      expect(await one.authorizationCodes.consume('unknown', 'spa', now)).toBeUndefined();
      // A code without a nonce keeps null.
      const plain = code({ nonce: null });
      await one.authorizationCodes.insert(plain);
      expect((await two.authorizationCodes.consume(plain.id, 'spa', now))?.record.nonce).toBeNull();
    });

    it('another client’s redemption does not consume the code (it gets the record, first false)', async () => {
      const record = code();
      await one.authorizationCodes.insert(record);
      const stolen = await two.authorizationCodes.consume(record.id, 'web', now);
      expect(stolen).toEqual({ record, first: false });
      expect(await one.authorizationCodes.consume(record.id, 'spa', now)).toEqual({
        record: { ...record, consumedAt: now },
        first: true,
      });
    });

    it('expired codes are pruned', async () => {
      const old = code({ expiresAt: now - 1 });
      await one.authorizationCodes.insert(old);
      expect(await one.authorizationCodes.prune(now)).toBeGreaterThanOrEqual(1);
      expect(await one.authorizationCodes.consume(old.id, 'spa', now)).toBeUndefined();
    });

    const session = (overrides: Partial<BrowserSessionRecord> = {}): BrowserSessionRecord => ({
      id: randomUUID(),
      sid: randomUUID(),
      userId: 'user-2',
      authTime: now,
      lastSeenAt: now,
      idleExpiresAt: now + 1_800_000,
      expiresAt: now + 3_600_000,
      endedAt: null,
      ...overrides,
    });

    it('browser sessions: touch never moves the idle expiry past the absolute one; end; end for a user', async () => {
      const a = session();
      const b = session();
      const other = session({ userId: 'user-3' });
      for (const s of [a, b, other]) await one.browserSessions.insert(s);
      await two.browserSessions.touch(a.id, now + 10, now + 9_999_999);
      expect(await one.browserSessions.find(a.id)).toEqual({
        ...a,
        lastSeenAt: now + 10,
        idleExpiresAt: a.expiresAt,
      });
      expect(await one.browserSessions.end(a.id, now + 20)).toBe(true);
      expect(await two.browserSessions.end(a.id, now + 30)).toBe(false);
      expect((await one.browserSessions.find(a.id))?.endedAt).toBe(now + 20);
      expect(await one.browserSessions.endForUser('user-2', now + 40)).toBe(1);
      expect((await one.browserSessions.find(b.id))?.endedAt).toBe(now + 40);
      expect((await one.browserSessions.find(other.id))?.endedAt).toBeNull();
      expect(await one.browserSessions.prune(now + 50)).toBe(2);
      expect(await one.browserSessions.find(other.id)).toBeDefined();
    });

    it('consents: upsert replaces, find, delete', async () => {
      expect(await one.consents.find('u', 'spa')).toBeUndefined();
      await one.consents.upsert({ userId: 'u', clientId: 'spa', scope: ['openid'], grantedAt: now });
      await two.consents.upsert({ userId: 'u', clientId: 'spa', scope: ['openid', 'a'], grantedAt: now + 1 });
      expect(await one.consents.find('u', 'spa')).toEqual({
        userId: 'u',
        clientId: 'spa',
        scope: ['openid', 'a'],
        grantedAt: now + 1,
      });
      expect(await two.consents.delete('u', 'spa')).toBe(true);
      expect(await one.consents.delete('u', 'spa')).toBe(false);
      await one.consents.upsert({ userId: 'u', clientId: 'gone', scope: [], grantedAt: now });
      await one.consents.upsert({ userId: 'v', clientId: 'gone', scope: [], grantedAt: now });
      await one.consents.upsert({ userId: 'v', clientId: 'kept', scope: [], grantedAt: now });
      await two.consents.deleteForClient('gone');
      expect(await one.consents.find('u', 'gone')).toBeUndefined();
      expect(await one.consents.find('v', 'gone')).toBeUndefined();
      expect(await one.consents.find('v', 'kept')).toBeDefined();
    });

    it('clients keep their redirect URIs and first-party flag', async () => {
      await one.clients.insert({
        clientId: 'spa-client',
        secretDigest: null,
        jwks: null,
        isPublic: true,
        grants: ['authorization_code', 'refresh_token'],
        scopes: ['a'],
        resources: [],
        createdAt: now,
        redirectUris: ['https://app.example/cb', 'http://127.0.0.1:8080/cb'],
        postLogoutRedirectUris: ['https://app.example/'],
        firstParty: true,
      });
      expect(await two.clients.find('spa-client')).toMatchObject({
        redirectUris: ['https://app.example/cb', 'http://127.0.0.1:8080/cb'],
        postLogoutRedirectUris: ['https://app.example/'],
        firstParty: true,
        grants: ['authorization_code', 'refresh_token'],
      });
    });
  });
}
