import type { Redis } from 'ioredis';
import { AppError } from '@tessera/shared';
import type { AssertionJtiStore } from '../storage/storage.js';

/**
 * Used client-assertion ids in Redis (when REDIS_URL is set): one `SET NX PXAT` per assertion,
 * atomic across replicas, expiring by itself. While Redis is unreachable client assertions are
 * refused with 503 (fail closed): falling back to another store would accept, during the outage,
 * a replay of an assertion whose first use only Redis remembers.
 */
export function createRedisAssertionJtiStore(redis: { client: Redis; keyPrefix: string }): AssertionJtiStore {
  return {
    async claim(key, expiresAt) {
      let reply;
      try {
        reply = await redis.client.set(
          `${redis.keyPrefix}assertion-jti:${key}`,
          '1',
          'PXAT',
          expiresAt,
          'NX',
        );
      } catch (error) {
        throw new AppError('temporarily_unavailable', 'client assertions cannot be checked right now', {
          cause: error,
          headers: { 'Retry-After': '5' },
        });
      }
      return reply === 'OK';
    },
  };
}
