import type { Clock } from '@tessera/shared';
import type { ClientRecord, ClientStore } from '../storage/storage.js';

/**
 * A client store that keeps found clients in memory for a short time, so the token endpoint's
 * client authentication costs no store round trip per request (issue #7). Writes through this
 * store invalidate the entry at once; changes made by another process (the admin CLI, another
 * replica) are seen within `ttlMs`. Unknown client ids are never cached, so a client created
 * elsewhere works on its first request.
 */
/** How long a found client is served from memory (and so how long a deletion elsewhere takes to reach us). */
export const clientCacheTtlMs = 10_000;

export function createCachedClientStore(
  store: ClientStore,
  options: { clock: Clock; ttlMs?: number; maxEntries?: number },
): ClientStore & { forget(clientId: string): void } {
  const { clock } = options;
  const ttlMs = options.ttlMs ?? clientCacheTtlMs;
  const maxEntries = options.maxEntries ?? 1000;
  const entries = new Map<string, { client: ClientRecord; expiresAt: number }>();

  return {
    async insert(client) {
      entries.delete(client.clientId);
      await store.insert(client);
      entries.delete(client.clientId);
    },
    async find(clientId) {
      const entry = entries.get(clientId);
      if (entry !== undefined && entry.expiresAt > clock.now()) return entry.client;
      entries.delete(clientId);
      const client = await store.find(clientId);
      if (client === undefined) return undefined;
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(clientId, { client, expiresAt: clock.now() + ttlMs });
      return client;
    },
    list: () => store.list(),
    async setJwks(clientId, jwks) {
      entries.delete(clientId);
      return store.setJwks(clientId, jwks);
    },
    async delete(clientId) {
      entries.delete(clientId);
      return store.delete(clientId);
    },
    /** Drops a client changed outside this store (e.g. deleted inside a transaction). */
    forget(clientId) {
      entries.delete(clientId);
    },
  };
}
