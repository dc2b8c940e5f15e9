import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Kysely } from 'kysely';
import request from 'supertest';
import { openDatabase } from '../src/storage/sql/database.js';
import { migrateTo } from '../src/storage/sql/migrations.js';
import { createSqlStorage } from '../src/storage/sql/sql-storage.js';
import type { Tables } from '../src/storage/sql/tables.js';
import { testDialects, type TestDatabase } from './dialects.js';
import {
  basic,
  createCheapHasher,
  createTestAuth,
  createTestStorage,
  decodeClaims,
  type TestAuth,
} from './helpers.js';

/**
 * Upgrading to per-service audiences (`0009_resources`): a database as the previous release
 * left it (migrated to 0008, with clients, a user and a live refresh token) keeps working. The
 * old single audience becomes a resource that every existing client may ask for, so their token
 * requests without `resource` get the same `aud` as before.
 */
describe.each(testDialects())('migration 0009_resources on $dialect.name', ({ dialect, enabled }) => {
  const maybe = enabled ? it : it.skip;
  let database: TestDatabase | undefined;
  let auth: TestAuth | undefined;
  const secret = 'old-client-secret-old-client-secret';
  const now = Date.now();
  const familyId = randomUUID();
  const refreshDigest = createHash('sha256').update('x'.repeat(43)).digest('hex');

  beforeAll(async () => {
    if (!enabled) return;
    database = await dialect.create();
    const db = openDatabase(database.location);
    try {
      await migrateTo(db, '0008_client_keys');
      // Rows shaped as 0008 stored them (no resources anywhere).
      const oldClient = (clientId: string, scopes: string) => ({
        client_id: clientId,
        secret_digest: createHash('sha256').update(secret).digest('hex'),
        is_public: 0,
        grants: 'client_credentials refresh_token password',
        scopes,
        created_at: now,
        jwks: null,
      });
      // 0010's columns (browser sign-in) do not exist yet.
      type OldClients = Omit<
        Tables['clients'],
        'redirect_uris' | 'post_logout_redirect_uris' | 'first_party'
      >;
      await (db as unknown as Kysely<{ clients: OldClients }>)
        .insertInto('clients')
        .values([oldClient('legacy-web', 'notes:read notes:write'), oldClient('legacy-svc', 'reports:read')])
        .execute();
      await (db as unknown as Kysely<{ refresh_tokens: Omit<Tables['refresh_tokens'], 'resources'> }>)
        .insertInto('refresh_tokens')
        .values({
          id: refreshDigest,
          family_id: familyId,
          client_id: 'legacy-web',
          user_id: randomUUID(),
          scope: 'notes:read',
          created_at: now,
          expires_at: now + 3_600_000,
          idle_expires_at: now + 3_600_000,
          consumed_at: null,
          successor_id: null,
          revoked_at: null,
        })
        .execute();
    } finally {
      await db.destroy();
    }
    // The new release starts on it with its configured (old) AUDIENCE.
    const url =
      database.location.dialect === 'sqlite'
        ? `sqlite:${database.location.file}`
        : database.location.connectionString;
    auth = await createTestAuth(
      { DATABASE_URL: url, AUDIENCE: 'tessera-api' },
      { hasher: await createCheapHasher() },
    );
  });
  afterAll(async () => {
    await auth?.close();
    await database?.drop();
  });

  maybe('registers the old audience as a resource understanding every scope clients held', async () => {
    const resource = await auth!.services.storage.resources.find('tessera-api');
    expect(resource).toMatchObject({
      uri: 'tessera-api',
      scopes: ['notes:read', 'notes:write', 'reports:read'],
      serverClientId: null,
    });
  });

  maybe('allows it to every existing client, and gives it to the live refresh-token grants', async () => {
    const storage = auth!.services.storage;
    for (const clientId of ['legacy-web', 'legacy-svc'])
      expect((await storage.clients.find(clientId))?.resources).toEqual(['tessera-api']);
    expect((await storage.refreshTokens.find(refreshDigest))?.resources).toEqual(['tessera-api']);
  });

  maybe('an existing client still gets tokens without naming a resource, with the old aud', async () => {
    const res = await request(auth!.app)
      .post('/oauth/token')
      .set('Authorization', basic('legacy-web', secret))
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
    expect(decodeClaims(res.body.access_token as string)).toMatchObject({
      aud: 'tessera-api',
      scope: 'notes:read notes:write',
    });
  });

  maybe('migrating again (another replica starting) changes nothing', async () => {
    const db = openDatabase(database!.location);
    const storage = createSqlStorage(db);
    try {
      const before = await storage.resources.list();
      await migrateTo(db, '0009_resources');
      expect(await storage.resources.list()).toEqual(before);
      expect(before.filter((resource) => resource.uri === 'tessera-api')).toHaveLength(1);
    } finally {
      await storage.close();
    }
  });
});

describe('migration 0009_resources on a fresh database', () => {
  it('registers nothing: resources are the operator’s to declare', async () => {
    const store = await createTestStorage();
    try {
      expect(await store.storage.resources.list()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
