import {
  commonVariableDocs,
  ConfigError,
  corsOrigins,
  duration,
  httpUrl,
  isLoopbackUrl,
  logLevel,
  maxClockToleranceSeconds,
  readEnv,
  readServiceConfig,
  serviceVariables,
  type VariableDoc,
} from '@tessera/shared';
import { z } from 'zod';
import { notesScopes } from './routes/notes.js';

const variables = z.object({
  ...serviceVariables({ port: 4001, metricsPort: 9465 }),
  ISSUER: httpUrl().default('http://localhost:4000'),
  // This service's resource identifier (RFC 8707): the one `aud` it accepts, registered at the
  // auth server with `resources create --uri`. The default is the development notes API's.
  AUDIENCE: z.string().min(1).default('http://localhost:4001'),
  // The scopes this resource is registered with, which its RFC 9728 metadata advertises: some of
  // what its routes require (a read-only deployment lists notes:read alone).
  SCOPES_SUPPORTED: z
    .string()
    .default(notesScopes.join(' '))
    .transform((text, ctx) => {
      const scopes = text.split(/\s+/).filter((scope) => scope !== '');
      const unknown = scopes.filter((scope) => !(notesScopes as readonly string[]).includes(scope));
      if (scopes.length === 0 || unknown.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected some of ${notesScopes.join(', ')} (space-separated)${unknown.length > 0 ? `, got ${unknown.join(' ')}` : ''}`,
        });
        return z.NEVER;
      }
      return Object.freeze([...new Set(scopes)]);
    }),
  // The auth server's base URL on a network the operator declares internal (Keycloak's
  // "backchannel" hostname): the JWKS and the revocation feed are fetched from it, while every
  // token's `iss` must still equal ISSUER. Declaring it allows plain http:// to its origin.
  BACKCHANNEL_URL: httpUrl().optional(),
  JWKS_URI: httpUrl().optional(),
  JWKS_STALE_WINDOW: duration('1h'),
  JWKS_MIN_REFRESH: duration('30s').refine((value) => value <= 3600, 'must be at most 1h'),
  CLOCK_TOLERANCE: duration('30s', 0).refine(
    (value) => value <= maxClockToleranceSeconds,
    `must be at most ${maxClockToleranceSeconds}s`,
  ),
  REVOCATION_FEED_URI: httpUrl().optional(),
  REVOCATION_REFRESH_INTERVAL: duration('15s', 1).refine((seconds) => seconds <= 300, 'must be at most 5m'),
  LOG_LEVEL: logLevel,
  CORS_ORIGINS: corsOrigins(),
});

/** Every environment variable the resource server reads (checked against docker-compose.yml by a test). */
export const configVariables: readonly string[] = Object.keys(variables.shape);

/** The variables' schema, for the configuration reference's generator (defaults are read from it). */
export const configSchema = variables;

/**
 * What docs/configuration.md says about each variable (`npm run docs:config` writes it; a test
 * fails when the committed file differs). Every variable of the schema must be here.
 */
export const configDocs: Readonly<Record<keyof typeof variables.shape, VariableDoc>> = {
  ...commonVariableDocs,
  AUDIENCE: {
    description:
      "this resource server's resource identifier (RFC 8707): the one `aud` it accepts; register it with `resources create --uri`",
  },
  SCOPES_SUPPORTED: {
    description:
      'the scopes its RFC 9728 metadata lists: those it is registered with (some of what its routes require)',
  },
  BACKCHANNEL_URL: {
    description:
      "the auth server's base URL on a network you declare internal: keys and the revocation feed are fetched there (`http://` allowed to its origin in production), while `iss` must still equal `ISSUER`",
  },
  JWKS_URI: {
    description: 'where the verifier fetches the keys',
    default: '`${BACKCHANNEL_URL or ISSUER}/.well-known/jwks.json`',
  },
  JWKS_STALE_WINDOW: {
    description: 'how long past its max-age the held key set keeps serving while the JWKS is unreachable',
  },
  JWKS_MIN_REFRESH: {
    description: 'never refresh the JWKS more often than this, whatever its max-age (at most 1h)',
  },
  REVOCATION_FEED_URI: {
    description: 'the revocation feed the verifier polls',
    default: '`${BACKCHANNEL_URL or ISSUER}/oauth/revocations`',
  },
  REVOCATION_REFRESH_INTERVAL: {
    description:
      'how often the feed is polled (at most 5m): a revoked token is refused within about this long; a list older than 4× this (at least 30s) stops counting (not ready, protected routes `503`)',
  },
};

const schema = variables.transform((env) => ({
  ...readServiceConfig(env),
  issuer: env.ISSUER,
  audience: env.AUDIENCE,
  scopesSupported: env.SCOPES_SUPPORTED,
  // The JWKS lives at the issuer's well-known path unless told otherwise.
  jwksUri: env.JWKS_URI ?? `${env.BACKCHANNEL_URL ?? env.ISSUER}/.well-known/jwks.json`,
  /** How long past its max-age the key set is still used while the auth server cannot be reached. */
  jwksStaleWindowSeconds: env.JWKS_STALE_WINDOW,
  /** The JWKS is refreshed at its max-age, but never more often than this. */
  jwksMinRefreshSeconds: env.JWKS_MIN_REFRESH,
  clockToleranceSeconds: env.CLOCK_TOLERANCE,
  revocationFeedUri: env.REVOCATION_FEED_URI ?? `${env.BACKCHANNEL_URL ?? env.ISSUER}/oauth/revocations`,
  revocationRefreshSeconds: env.REVOCATION_REFRESH_INTERVAL,
}));

/** The resource server's validated configuration. */
export type ResourceServerConfig = Readonly<z.output<typeof schema>>;

/**
 * Reads the resource server's configuration from an environment. Pure: the caller passes
 * `process.env`. Throws a `ConfigError` listing every problem at once.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): ResourceServerConfig {
  const config = readEnv(schema, env);
  if (config.production) {
    // Keys and revocations fetched over plain http could be swapped in transit (RFC 8725 §3.10):
    // only loopback and the origin the operator declared internal (BACKCHANNEL_URL) may use it.
    const backchannel = env.BACKCHANNEL_URL ? new URL(env.BACKCHANNEL_URL).origin : undefined;
    const insecure = (
      [
        ['ISSUER', config.issuer],
        ['JWKS_URI', config.jwksUri],
        ['REVOCATION_FEED_URI', config.revocationFeedUri],
      ] as const
    ).filter(
      ([name, url]) =>
        url.startsWith('http://') &&
        !isLoopbackUrl(url) &&
        (name === 'ISSUER' || new URL(url).origin !== backchannel),
    );
    if (insecure.length > 0)
      throw new ConfigError(
        insecure.map(
          ([name]) =>
            `${name}: must be https:// in production (http:// only on loopback${name === 'ISSUER' ? '' : " or BACKCHANNEL_URL's origin"})`,
        ),
      );
  }
  return Object.freeze(config);
}
