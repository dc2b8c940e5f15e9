import { corsOrigins, httpUrl, logLevel, port, readEnv } from '@tessera/shared';
import { z } from 'zod';

const schema = z
  .object({
    PORT: port(4001),
    HOST: z.string().min(1).default('127.0.0.1'),
    ISSUER: httpUrl().default('http://localhost:4000'),
    AUDIENCE: z.string().min(1).default('tessera-api'),
    JWKS_URI: httpUrl().optional(),
    LOG_LEVEL: logLevel,
    CORS_ORIGINS: corsOrigins(),
  })
  .transform((env) => ({
    port: env.PORT,
    host: env.HOST,
    issuer: env.ISSUER,
    audience: env.AUDIENCE,
    // DESIGN.md: the JWKS lives at the issuer's well-known path unless told otherwise.
    jwksUri: env.JWKS_URI ?? `${env.ISSUER}/.well-known/jwks.json`,
    logLevel: env.LOG_LEVEL,
    corsOrigins: env.CORS_ORIGINS,
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
