import type { RequestHandler } from 'express';
import { AppError } from '@tessera/shared';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** A request budget: at most `points` requests per `durationSeconds`, per key. */
export interface RateLimit {
  points: number;
  durationSeconds: number;
}

/** A request budget per key (an IP address, a client id). */
export interface RequestLimiter {
  /** Spends one request; throws 429 `too_many_requests` with `Retry-After` once the budget is gone. */
  consume(key: string): Promise<void>;
}

/**
 * The request budgets of one endpoint that reaches the store: per client IP, spent before the
 * request is even parsed, and per authenticated client. Each endpoint has budgets of its own, so
 * a flood of one (revocations, say) never spends another's (tokens).
 */
export interface EndpointRateLimits {
  perIp: RequestLimiter;
  perClient: RequestLimiter;
}

/**
 * Middleware spending one request of `limiter` for the client IP. `req.ip` follows `trust proxy`
 * (TRUST_PROXY); without a socket address every caller shares one budget.
 */
export function limitByIp(limiter: RequestLimiter): RequestHandler {
  return async (req, _res, next) => {
    await limiter.consume(req.ip ?? 'unknown');
    next();
  };
}

/**
 * A fixed-window request limiter: in Redis when one is given, so every replica draws on the same
 * budget; in process memory otherwise. With Redis, an in-memory limiter takes over while Redis
 * is unreachable (rate-limiter-flexible's insurance limiter): limits stay on, per replica,
 * instead of failing open or failing every request.
 */
export function createRequestLimiter(options: {
  name: string;
  limit: RateLimit;
  redis?: { client: Redis; keyPrefix: string } | undefined;
}): RequestLimiter {
  const { points, durationSeconds: duration } = options.limit;
  const memory = new RateLimiterMemory({ points, duration, keyPrefix: options.name });
  const limiter =
    options.redis === undefined
      ? memory
      : new RateLimiterRedis({
          storeClient: options.redis.client,
          keyPrefix: `${options.redis.keyPrefix}${options.name}`,
          points,
          duration,
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
        });
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        throw new AppError('too_many_requests', 'too many requests; slow down', {
          headers: { 'Retry-After': String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))) },
        });
      }
    },
  };
}
