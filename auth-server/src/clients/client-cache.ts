import type { Clock } from '@tessera/shared';
import { storeCacheTtlMs, type ClientRecord, type ClientStore } from '../storage/storage.js';

/**
 * A client store that keeps found clients in memory for a short time, so the token endpoint's
 * client authentication costs no store round trip per request. Writes through this
 * store invalidate the entry at once; changes made by another process (the admin CLI, another
 * replica) are seen within `ttlMs`.
 *
 * Unknown client ids are remembered too, for `missTtlMs` (2 s): a flood of requests naming one
 * unknown id then costs one store query per 2 s instead of one each, so it cannot drain the
 * connection pool the token endpoint needs. A client created through this store is found at
 * once; one created elsewhere (the admin CLI, another replica) within 2 s of a request naming it.
 * Misses are kept apart from found clients, so a flood of random ids never evicts a real client.
 */
/** How long an unknown client id is answered "unknown" from memory. */
export const clientMissTtlMs = 2_000;

export function createCachedClientStore(
  store: ClientStore,
  options: { clock: Clock; ttlMs?: number; missTtlMs?: number; maxEntries?: number },
): ClientStore & { forget(clientId: string): void } {
  const { clock } = options;
  const ttlMs = options.ttlMs ?? storeCacheTtlMs;
  const missTtlMs = options.missTtlMs ?? clientMissTtlMs;
  const maxEntries = options.maxEntries ?? 1000;
  const entries = new Map<string, { client: ClientRecord; expiresAt: number }>();
  /** Unknown ids and until when they are answered from memory (insertion order: oldest first). */
  const misses = new Map<string, number>();

  /** Adds to a bounded map, dropping its oldest entry when full. */
  function remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    if (map.size >= maxEntries) {
      const oldest = map.keys().next();
      if (oldest.done !== true) map.delete(oldest.value);
    }
    map.set(key, value);
  }

  return {
    async insert(client) {
      entries.delete(client.clientId);
      misses.delete(client.clientId);
      await store.insert(client);
      entries.delete(client.clientId);
      misses.delete(client.clientId);
    },
    async find(clientId) {
      const now = clock.now();
      const entry = entries.get(clientId);
      if (entry !== undefined && entry.expiresAt > now) return entry.client;
      entries.delete(clientId);
      const missUntil = misses.get(clientId);
      if (missUntil !== undefined && missUntil > now) return undefined;
      misses.delete(clientId);
      const client = await store.find(clientId);
      if (client === undefined) remember(misses, clientId, clock.now() + missTtlMs);
      else remember(entries, clientId, { client, expiresAt: clock.now() + ttlMs });
      return client;
    },
    list: () => store.list(),
    async setJwks(clientId, jwks) {
      entries.delete(clientId);
      return store.setJwks(clientId, jwks);
    },
    async setResources(clientId, resources) {
      entries.delete(clientId);
      const changed = await store.setResources(clientId, resources);
      entries.delete(clientId);
      return changed;
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
