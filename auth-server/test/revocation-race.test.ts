import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createFixedClock } from '@tessera/shared';
import pg from 'pg';
import type { RefreshTokenRecord, Storage } from '../src/storage/storage.js';
import { createRevocationService } from '../src/tokens/revocations.js';
import { testDialects, type TestDatabase } from './dialects.js';

/**
 * Disabling a user while one of their refresh tokens is being rotated, on PostgreSQL (READ
 * COMMITTED, where the race exists; SQLite serialises writers). The rotation holds the consumed
 * parent's row lock and has inserted the successor; the revocation's first pass waits on that lock
 * and, once it is released, cannot see the successor (its snapshot predates the insert). Only a
 * second pass catches it, as family revocation already does.
 */
const postgres = testDialects().find(({ dialect }) => dialect.name === 'postgres')!;

(postgres.enabled ? describe : describe.skip)(
  'disabling a user races a refresh rotation (PostgreSQL)',
  () => {
    let database: TestDatabase;
    let rotating: Storage;
    let revoking: Storage;
    const now = Date.UTC(2026, 5, 1);

    beforeAll(async () => {
      database = await postgres.dialect.create();
      rotating = await database.open();
      revoking = await database.open();
    });
    afterAll(async () => {
      await rotating?.close();
      await revoking?.close();
      await database?.drop();
    });

    const token = (overrides: Partial<RefreshTokenRecord>): RefreshTokenRecord => ({
      id: randomUUID(),
      familyId: randomUUID(),
      clientId: 'app',
      userId: 'racing-user',
      scope: ['a'],
      resources: ['https://api.test'],
      createdAt: now,
      expiresAt: now + 3_600_000,
      idleExpiresAt: now + 1_800_000,
      consumedAt: null,
      successorId: null,
      revokedAt: null,
      ...overrides,
    });

    /** Polls (bounded) until a session of this database waits on a row lock. */
    async function untilSomeoneWaitsOnALock(): Promise<void> {
      const { location } = database;
      if (location.dialect !== 'postgres') throw new Error('PostgreSQL only');
      const client = new pg.Client({ connectionString: location.connectionString });
      await client.connect();
      try {
        for (let attempt = 0; attempt < 200; attempt += 1) {
          const { rows } = await client.query<{ waiting: string }>(
            "select count(*) as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
          );
          if (Number(rows[0]?.waiting) > 0) return;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        throw new Error('the revocation never waited on the rotation’s lock');
      } finally {
        await client.end();
      }
    }

    it('a successor rotated while the revocation waited on its parent is revoked too', async () => {
      const parent = token({});
      const successor = token({ familyId: parent.familyId });
      await rotating.refreshTokens.insert(parent);
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let written!: () => void;
      const wrote = new Promise<void>((resolve) => {
        written = resolve;
      });
      const rotation = rotating.transaction(async (tx) => {
        expect(await tx.refreshTokens.markConsumed(parent.id, successor.id, now)).toBe(true);
        await tx.refreshTokens.insert(successor);
        written();
        await held;
      });
      await wrote;

      const revocations = createRevocationService({
        storage: revoking,
        clock: createFixedClock(now),
        accessTokenTtlSeconds: 900,
      });
      const disabling = revocations.revokeUser('racing-user');
      await untilSomeoneWaitsOnALock();
      release();
      await Promise.all([rotation, disabling]);

      expect((await rotating.refreshTokens.find(successor.id))?.revokedAt).toBe(now);
      expect((await rotating.refreshTokens.find(parent.id))?.revokedAt).toBe(now);
    });
  },
);
