import { Redis } from 'ioredis';

/**
 * Connects to the Redis that holds the shared rate limits; rejects if it cannot be reached at
 * start-up (an operator error worth stopping for). Afterwards commands never queue while the
 * connection is down: the limiters fall back to in-process limits until it is back.
 */
export async function openRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`cannot reach REDIS_URL: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return redis;
}
