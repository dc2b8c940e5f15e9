import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { AppError } from '@tessera/shared';
import { createRedisAssertionJtiStore } from '../src/clients/assertion-jtis.js';
import { openRedis } from '../src/limits/redis.js';
import type { AssertionJtiStore, Storage } from '../src/storage/storage.js';
import { testDialects, type TestDatabase } from './dialects.js';

/**
 * The single-use store of client assertion ids, on every backend it runs on: SQLite and
 * PostgreSQL (the database store, two handles standing for two replicas) and Redis (two
 * connections). The same contract: first claim wins, a live claim is never taken twice (not even
 * by two replicas at the same instant), an expired one can be claimed again.
 */
function contract(name: string, open: () => Promise<{ one: AssertionJtiStore; two: AssertionJtiStore }>) {
  describe(`assertion jti store contract on ${name}`, () => {
    let one: AssertionJtiStore;
    let two: AssertionJtiStore;
    // Redis expires keys by its own clock, so the times are real ones.
    const now = Date.now();
    beforeAll(async () => {
      ({ one, two } = await open());
    });

    it('the first claim succeeds; any later one, from either replica, fails while it lives', async () => {
      const key = randomUUID();
      expect(await one.claim(key, now + 60_000, now)).toBe(true);
      expect(await one.claim(key, now + 60_000, now)).toBe(false);
      expect(await two.claim(key, now + 60_000, now + 1000)).toBe(false);
      expect(await two.claim(randomUUID(), now + 60_000, now)).toBe(true);
    });

    it('two replicas claiming the same key at once: exactly one wins, every time', async () => {
      for (let round = 0; round < 20; round++) {
        const key = randomUUID();
        const results = await Promise.all([
          one.claim(key, now + 60_000, now),
          two.claim(key, now + 60_000, now),
          one.claim(key, now + 60_000, now),
          two.claim(key, now + 60_000, now),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });
  });
}

for (const { dialect, enabled } of testDialects()) {
  (enabled ? describe : describe.skip)(`database (${dialect.name})`, () => {
    let database: TestDatabase;
    const handles: Storage[] = [];
    afterAll(async () => {
      await Promise.all(handles.map((handle) => handle.close()));
      await database?.drop();
    });
    contract(dialect.name, async () => {
      database = await dialect.create();
      handles.push(await database.open(), await database.open());
      return { one: handles[0]!.assertionJtis, two: handles[1]!.assertionJtis };
    });

    it('an expired entry can be claimed again, and pruning deletes only expired entries', async () => {
      const store = handles[0]!.assertionJtis;
      const now = Date.UTC(2026, 5, 1);
      const expired = randomUUID();
      const live = randomUUID();
      expect(await store.claim(expired, now + 1000, now)).toBe(true);
      expect(await store.claim(live, now + 60_000, now)).toBe(true);
      // At its expiry the entry is no longer a replay: the assertion itself is expired by then.
      expect(await store.claim(expired, now + 61_000, now + 1000)).toBe(true);
      expect(await store.claim(expired, now + 61_000, now + 1000)).toBe(false);
      expect(await handles[1]!.assertionJtis.prune(now + 61_000)).toBeGreaterThanOrEqual(2);
      expect(await store.claim(live, now + 200_000, now + 61_000)).toBe(true);
      expect(await handles[1]!.assertionJtis.prune(now + 61_000)).toBe(0);
    });
  });
}

const redisUrl = process.env.TEST_REDIS_URL;
(redisUrl === undefined ? describe.skip : describe)('Redis (TEST_REDIS_URL)', () => {
  const keyPrefix = `tessera-test:${randomUUID()}:`;
  const clients: Redis[] = [];
  afterAll(async () => {
    const keys = await clients[0]!.keys(`${keyPrefix}*`);
    if (keys.length > 0) await clients[0]!.del(...keys);
    await Promise.all(clients.map((client) => client.quit()));
  });
  contract('Redis', async () => {
    clients.push(await openRedis(redisUrl!), await openRedis(redisUrl!));
    return {
      one: createRedisAssertionJtiStore({ client: clients[0]!, keyPrefix }),
      two: createRedisAssertionJtiStore({ client: clients[1]!, keyPrefix }),
    };
  });

  it('entries live under REDIS_KEY_PREFIX and expire by themselves at the given time', async () => {
    const store = createRedisAssertionJtiStore({ client: clients[0]!, keyPrefix });
    const key = randomUUID();
    const expiresAt = Date.now() + 120_000;
    expect(await store.claim(key, expiresAt, Date.now())).toBe(true);
    const ttl = await clients[0]!.pexpiretime(`${keyPrefix}assertion-jti:${key}`);
    expect(ttl).toBe(expiresAt);
  });
});

describe('Redis unreachable', () => {
  it('a claim fails closed: 503 temporarily_unavailable with Retry-After, not an accepted assertion', async () => {
    // Never connected, and no offline queue (as openRedis configures it): every command fails at once.
    const client = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false });
    const store = createRedisAssertionJtiStore({ client, keyPrefix: 'x:' });
    const claim = store.claim(randomUUID(), Date.now() + 60_000, Date.now());
    await expect(claim).rejects.toBeInstanceOf(AppError);
    await expect(claim).rejects.toMatchObject({
      code: 'temporarily_unavailable',
      status: 503,
      headers: { 'Retry-After': '5' },
    });
    client.disconnect();
  });
});
