import { describe, expect, it } from '@jest/globals';
import { createFixedClock } from '@tessera/shared';
import { createCachedClientStore } from '../src/clients/client-cache.js';
import type { ClientRecord, ClientStore } from '../src/storage/storage.js';

function client(clientId: string, scopes: string[] = ['notes:read']): ClientRecord {
  return { clientId, secretDigest: null, isPublic: true, grants: ['password'], scopes, createdAt: 0 };
}

/** An in-memory store that counts look-ups, standing in for SQL. */
function countingStore() {
  const records = new Map<string, ClientRecord>();
  const counts = { finds: 0 };
  const store: ClientStore = {
    insert: (record) => {
      records.set(record.clientId, record);
      return Promise.resolve();
    },
    find: (clientId) => {
      counts.finds += 1;
      return Promise.resolve(records.get(clientId));
    },
  };
  return { store, records, counts };
}

describe('cached client store', () => {
  it('answers a known client from memory until the TTL passes, then asks the store again', async () => {
    const clock = createFixedClock();
    const { store, counts } = countingStore();
    await store.insert(client('web'));
    const cached = createCachedClientStore(store, { clock, ttlMs: 1000 });
    await cached.find('web');
    await cached.find('web');
    expect(counts.finds).toBe(1);
    clock.advance(1000);
    await cached.find('web');
    expect(counts.finds).toBe(2);
  });

  it('never caches an unknown client id, so one created elsewhere works at once', async () => {
    const clock = createFixedClock();
    const { store, records } = countingStore();
    const cached = createCachedClientStore(store, { clock });
    expect(await cached.find('late')).toBeUndefined();
    records.set('late', client('late')); // e.g. the admin CLI, another process
    expect(await cached.find('late')).toEqual(client('late'));
  });

  it('drops the entry when the client is written through it', async () => {
    const clock = createFixedClock();
    const { store, records } = countingStore();
    const cached = createCachedClientStore(store, { clock });
    await cached.insert(client('web'));
    expect((await cached.find('web'))?.scopes).toEqual(['notes:read']);
    records.delete('web');
    await cached.insert(client('web', ['notes:write']));
    expect((await cached.find('web'))?.scopes).toEqual(['notes:write']);
  });

  it('holds at most maxEntries clients', async () => {
    const clock = createFixedClock();
    const { store, counts } = countingStore();
    for (const id of ['a', 'b', 'c']) await store.insert(client(id));
    const cached = createCachedClientStore(store, { clock, maxEntries: 2 });
    for (const id of ['a', 'b', 'c']) await cached.find(id);
    await cached.find('a');
    expect(counts.finds).toBe(4);
  });
});
