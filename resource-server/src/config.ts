import { duration, httpUrl, logLevel, port, readEnv } from '@tessera/shared';
import { z } from 'zod';

const schema = z
  .object({
    PORT: port(4001),
    HOST: z.string().min(1).default('127.0.0.1'),
    ISSUER: httpUrl().default('http://localhost:4000'),
    AUDIENCE: z.string().min(1).default('tessera-api'),
    JWKS_URI: httpUrl().optional(),
    JWKS_STALE_WINDOW: duration('1h'),
    JWKS_MIN_REFRESH: duration('30s').refine((value) => value <= 3600, 'must be at most 1h'),
    CLOCK_TOLERANCE: duration('30s', 0).refine((value) => value <= 300, 'must be at most 300s'),
    LOG_LEVEL: logLevel,
  })
  .transform((env) => ({
    port: env.PORT,
    host: env.HOST,
    issuer: env.ISSUER,
    audience: env.AUDIENCE,
    // DESIGN.md: the JWKS lives at the issuer's well-known path unless told otherwise.
    jwksUri: env.JWKS_URI ?? `${env.ISSUER}/.well-known/jwks.json`,
    /** How long past its max-age the key set is still used while the auth server cannot be reached. */
    jwksStaleWindowSeconds: env.JWKS_STALE_WINDOW,
    /** The JWKS is refreshed at its max-age, but never more often than this. */
    jwksMinRefreshSeconds: env.JWKS_MIN_REFRESH,
    clockToleranceSeconds: env.CLOCK_TOLERANCE,
    logLevel: env.LOG_LEVEL,
  }));

/** The resource server's validated configuration. */
export type ResourceServerConfig = Readonly<z.output<typeof schema>>;

/**
 * Reads the resource server's configuration from an environment. Pure: the caller passes
 * `process.env`. Throws a `ConfigError` listing every problem at once.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): ResourceServerConfig {
  return Object.freeze(readEnv(schema, env));
}
