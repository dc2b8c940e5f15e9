import type { Clock } from '@tessera/shared';
import { storeCacheTtlMs, type ResourceRecord, type ResourceStore } from '../storage/storage.js';

/**
 * A resource store whose `find` keeps registered resources in memory as briefly as the client
 * cache keeps clients, so a token request for a known client and resource costs no store round
 * trip. Writes through it take effect here at once; changes made elsewhere (the admin CLI,
 * another replica) within `ttlMs`, as for clients. Only resources a client is allowed to ask for
 * are ever looked up, so unknown identifiers cannot fill it; it is bounded all the same.
 */
export function createCachedResourceStore(
  store: ResourceStore,
  options: { clock: Clock; ttlMs?: number; maxEntries?: number },
): ResourceStore {
  const { clock } = options;
  const ttlMs = options.ttlMs ?? storeCacheTtlMs;
  const maxEntries = options.maxEntries ?? 1000;
  const entries = new Map<string, { resource: ResourceRecord; expiresAt: number }>();

  return {
    async find(uri) {
      const entry = entries.get(uri);
      if (entry !== undefined && clock.now() < entry.expiresAt) return entry.resource;
      entries.delete(uri);
      const resource = await store.find(uri);
      if (resource !== undefined) {
        if (entries.size >= maxEntries) entries.clear();
        entries.set(uri, { resource, expiresAt: clock.now() + ttlMs });
      }
      return resource;
    },
    list: () => store.list(),
    listServedBy: (clientId) => store.listServedBy(clientId),
    async insert(resource) {
      entries.delete(resource.uri);
      await store.insert(resource);
    },
    async update(uri, change) {
      entries.delete(uri);
      const updated = await store.update(uri, change);
      entries.delete(uri);
      return updated;
    },
    async delete(uri) {
      entries.delete(uri);
      const deleted = await store.delete(uri);
      entries.delete(uri);
      return deleted;
    },
  };
}
