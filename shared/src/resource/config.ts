import { z } from 'zod';
import {
  commonVariableDocs,
  ConfigError,
  duration,
  httpUrl,
  isLoopbackUrl,
  readEnv,
  readServiceConfig,
  serviceVariables,
  type VariableDoc,
} from '../config.js';

/** What sets one token-verifying service's configuration apart from another's. */
export interface ResourceConfigShape {
  /** The default `PORT` (and of `AUDIENCE`, `http://localhost:<port>`) and `METRICS_PORT`. */
  port: number;
  metricsPort: number;
  /** Every scope the service's routes require; `SCOPES_SUPPORTED` may list some of them. */
  scopes: readonly string[];
}

/**
 * The variables of a service that verifies Tessera access tokens: the service's own
 * (`serviceVariables`), where the tokens come from and are for, and how the key set and the
 * revocation feed are polled.
 */
export function resourceVariables({ port, metricsPort, scopes: known }: ResourceConfigShape) {
  return {
    ...serviceVariables({ port, metricsPort }),
    // This service's resource identifier (RFC 8707): the one `aud` it accepts, registered at the
    // auth server with `resources create --uri`.
    AUDIENCE: z.string().min(1).default(`http://localhost:${port}`),
    // The scopes this resource is registered with, which its RFC 9728 metadata advertises: some of
    // what its routes require (a read-only deployment of the notes API lists notes:read alone).
    SCOPES_SUPPORTED: z
      .string()
      .default(known.join(' '))
      .transform((text, ctx) => {
        const scopes = text.split(/\s+/).filter((scope) => scope !== '');
        const unknown = scopes.filter((scope) => !known.includes(scope));
        if (scopes.length === 0 || unknown.length > 0) {
          ctx.addIssue({
            code: 'custom',
            message: `expected some of ${known.join(', ')} (space-separated)${unknown.length > 0 ? `, got ${unknown.join(' ')}` : ''}`,
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
    REVOCATION_FEED_URI: httpUrl().optional(),
    REVOCATION_REFRESH_INTERVAL: duration('15s', 1).refine((seconds) => seconds <= 300, 'must be at most 5m'),
  };
}

/** What the configuration reference (docs/configuration.md) says about each of {@link resourceVariables}. */
export const resourceVariableDocs: Readonly<Record<keyof ReturnType<typeof resourceVariables>, VariableDoc>> =
  {
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

function toResourceConfig(env: z.output<z.ZodObject<ReturnType<typeof resourceVariables>>>) {
  return {
    ...readServiceConfig(env),
    audience: env.AUDIENCE,
    scopesSupported: env.SCOPES_SUPPORTED,
    // The JWKS lives at the issuer's well-known path unless told otherwise.
    jwksUri: env.JWKS_URI ?? `${env.BACKCHANNEL_URL ?? env.ISSUER}/.well-known/jwks.json`,
    /** How long past its max-age the key set is still used while the auth server cannot be reached. */
    jwksStaleWindowSeconds: env.JWKS_STALE_WINDOW,
    /** The JWKS is refreshed at its max-age, but never more often than this. */
    jwksMinRefreshSeconds: env.JWKS_MIN_REFRESH,
    revocationFeedUri: env.REVOCATION_FEED_URI ?? `${env.BACKCHANNEL_URL ?? env.ISSUER}/oauth/revocations`,
    revocationRefreshSeconds: env.REVOCATION_REFRESH_INTERVAL,
  };
}

/** A token-verifying service's validated configuration. */
export type ResourceConfig = Readonly<ReturnType<typeof toResourceConfig>>;

/** A service's configuration: its variables' schema, their docs, and the reader. */
export interface ResourceConfigReader {
  /** The variables' schema (the configuration reference's generator reads the defaults from it). */
  schema: z.ZodObject<ReturnType<typeof resourceVariables>>;
  /** Every environment variable the service reads. */
  variables: readonly string[];
  docs: typeof resourceVariableDocs;
  /**
   * Reads the configuration from an environment. Pure: the caller passes `process.env`. Throws a
   * `ConfigError` listing every problem at once.
   */
  load: (env: Readonly<Record<string, string | undefined>>) => ResourceConfig;
}

/** The configuration of a token-verifying service with these defaults and scopes. */
export function resourceConfig(shape: ResourceConfigShape): ResourceConfigReader {
  const schema = z.object(resourceVariables(shape));
  const parsed = schema.transform(toResourceConfig);
  return {
    schema,
    variables: Object.keys(schema.shape),
    docs: resourceVariableDocs,
    load: (env) => checkProduction(env, readEnv(parsed, env)),
  };
}

function checkProduction(
  env: Readonly<Record<string, string | undefined>>,
  config: ReturnType<typeof toResourceConfig>,
): ResourceConfig {
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
