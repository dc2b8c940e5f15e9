import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createFixedClock } from '@tessera/shared';
import { createCachedClientStore } from '../src/clients/client-cache.js';
import type { ClientRecord, ClientStore } from '../src/storage/storage.js';
import { createTestStorage } from './helpers.js';

function client(clientId: string, scopes: string[] = ['notes:read']): ClientRecord {
  return {
    clientId,
    secretDigest: null,
    isPublic: true,
    grants: ['password'],
    scopes,
    resources: [],
    createdAt: 0,
    jwks: null,
    redirectUris: [],
    postLogoutRedirectUris: [],
    firstParty: false,
  };
}

describe('cached client store (on a real SQLite store, counting its look-ups)', () => {
  let close: () => Promise<void>;
  let sql: ClientStore;
  let counts: { finds: number };
  /** The real store, with its finds counted. */
  let store: ClientStore;

  beforeEach(async () => {
    const test = await createTestStorage();
    close = () => test.close();
    sql = test.storage.clients;
    counts = { finds: 0 };
    store = {
      insert: (record) => sql.insert(record),
      list: () => sql.list(),
      delete: (clientId) => sql.delete(clientId),
      setJwks: (clientId, jwks) => sql.setJwks(clientId, jwks),
      setResources: (clientId, resources) => sql.setResources(clientId, resources),
      find: (clientId) => {
        counts.finds += 1;
        return sql.find(clientId);
      },
    };
  });
  afterEach(() => close());

  it('answers a known client from memory until the TTL passes, then asks the store again', async () => {
    const clock = createFixedClock();
    await sql.insert(client('web'));
    const cached = createCachedClientStore(store, { clock, ttlMs: 1000 });
    await cached.find('web');
    await cached.find('web');
    expect(counts.finds).toBe(1);
    clock.advance(1000);
    await cached.find('web');
    expect(counts.finds).toBe(2);
  });

  it('remembers an unknown client id for missTtlMs: a flood naming it costs one store query', async () => {
    const clock = createFixedClock();
    const cached = createCachedClientStore(store, { clock, missTtlMs: 2000 });
    for (let i = 0; i < 50; i++) expect(await cached.find('nobody')).toBeUndefined();
    expect(counts.finds).toBe(1);
    await sql.insert(client('nobody')); // created elsewhere: the admin CLI, another replica
    clock.advance(1999);
    expect(await cached.find('nobody')).toBeUndefined();
    expect(counts.finds).toBe(1);
    clock.advance(1);
    expect(await cached.find('nobody')).toEqual(client('nobody'));
    expect(counts.finds).toBe(2);
  });

  it('finds a client created through it at once, even right after its id was unknown', async () => {
    const cached = createCachedClientStore(store, { clock: createFixedClock() });
    expect(await cached.find('late')).toBeUndefined();
    await cached.insert(client('late'));
    expect(await cached.find('late')).toEqual(client('late'));
  });

  it('keeps unknown ids apart from clients: a flood of random ids never evicts a real client', async () => {
    await sql.insert(client('web'));
    const cached = createCachedClientStore(store, { clock: createFixedClock(), maxEntries: 10 });
    await cached.find('web');
    for (let i = 0; i < 100; i++) await cached.find(`random-${i}`);
    counts.finds = 0;
    expect(await cached.find('web')).toEqual(client('web'));
    expect(counts.finds).toBe(0);
    // ...and the misses themselves stay bounded: the oldest random id is asked about again.
    await cached.find('random-0');
    expect(counts.finds).toBe(1);
  });

  it('drops the entry when the client is written or deleted through it, or forgotten', async () => {
    const cached = createCachedClientStore(store, { clock: createFixedClock() });
    await cached.insert(client('web'));
    expect((await cached.find('web'))?.scopes).toEqual(['notes:read']);
    expect(await cached.delete('web')).toBe(true);
    expect(await cached.find('web')).toBeUndefined();

    await cached.insert(client('web', ['notes:write']));
    expect((await cached.find('web'))?.scopes).toEqual(['notes:write']);
    await sql.delete('web'); // deleted elsewhere (a transaction): the entry is stale until forgotten
    expect(await cached.find('web')).toBeDefined();
    cached.forget('web');
    expect(await cached.find('web')).toBeUndefined();
  });

  it('holds at most maxEntries clients', async () => {
    for (const id of ['a', 'b', 'c']) await sql.insert(client(id));
    const cached = createCachedClientStore(store, { clock: createFixedClock(), maxEntries: 2 });
    for (const id of ['a', 'b', 'c']) await cached.find(id);
    await cached.find('a');
    expect(counts.finds).toBe(4);
  });
});
