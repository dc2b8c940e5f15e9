import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import {
  commonVariableDocs,
  ConfigError,
  duration,
  isLoopbackUrl,
  parseDuration,
  readEnv,
  readServiceConfig,
  serviceVariables,
  type ServiceConfig,
  type VariableDoc,
} from '@tessera/shared';

/** A zod schema for `<count>/<duration>`, e.g. `120/1m`. */
function rateLimit(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .transform((text, ctx): RateLimit => {
      const [count, window] = text.split('/');
      const points = Number(count);
      const durationSeconds = window === undefined ? undefined : parseDuration(window);
      if (
        !Number.isSafeInteger(points) ||
        points < 1 ||
        durationSeconds === undefined ||
        durationSeconds < 1
      ) {
        ctx.addIssue({ code: 'custom', message: `expected <count>/<duration> like 120/1m, got "${text}"` });
        return z.NEVER;
      }
      return { points, durationSeconds };
    });
}

/** Express's names for address ranges, accepted in a TRUST_PROXY list as Express does. */
const trustProxyRangeNames = ['loopback', 'linklocal', 'uniquelocal'];

/** Why one TRUST_PROXY list entry is not an address, a CIDR range or a range name; or undefined. */
function trustedProxyProblem(entry: string): string | undefined {
  if (trustProxyRangeNames.includes(entry)) return undefined;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0)
    return `"${entry}" is not an IP address, a CIDR range or one of ${trustProxyRangeNames.join(', ')}`;
  if (prefix === undefined) return undefined;
  const bits = Number(prefix);
  const maxBits = family === 4 ? 32 : 128;
  if (!/^\d+$/.test(prefix) || bits > maxBits) return `"${entry}": the prefix length must be 1 to ${maxBits}`;
  // A /0 trusts every address, so every client could choose its own IP: never a proxy list.
  if (bits === 0) return `"${entry}" trusts every address; list only your proxies`;
  return undefined;
}

/**
 * `TRUST_PROXY`: which reverse proxies' `X-Forwarded-For` gives the client IP (the per-IP rate
 * limits' key), in either of Express's `trust proxy` forms: a hop count (`0` none, `1` one proxy;
 * at most 10), or a comma-separated list of proxy addresses, CIDR ranges and the names
 * `loopback`, `linklocal`, `uniquelocal`. A list is the robust form: the client IP is the nearest
 * address in the chain that is not a listed proxy, whatever a CDN in front adds or a client forges.
 */
function trustProxy() {
  return z
    .string()
    .default('0')
    .transform((text, ctx): number | readonly string[] => {
      const trimmed = text.trim();
      if (/^\d+$/.test(trimmed)) {
        const hops = Number(trimmed);
        if (hops <= 10) return hops;
        ctx.addIssue({ code: 'custom', message: 'a hop count must be at most 10; list the proxies instead' });
        return z.NEVER;
      }
      const entries = trimmed
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '');
      const problems = entries.map(trustedProxyProblem).filter((problem) => problem !== undefined);
      if (entries.length === 0 || problems.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message:
            problems.length > 0
              ? `${problems.join('; ')} (expected a hop count or a list like 10.0.0.0/8,loopback)`
              : 'expected a hop count or a list like 10.0.0.0/8,loopback',
        });
        return z.NEVER;
      }
      return Object.freeze(entries);
    });
}

const integer = (defaultValue: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(defaultValue);

/**
 * Argon2 runs on libuv's pool (4 threads by default); leave one core to the event loop so
 * health checks and cheap requests stay fast during a login flood.
 */
const defaultHashConcurrency = Math.max(1, Math.min(4, availableParallelism() - 1));
import { checkKeyDurations, deriveKeyDurations, type KeyDurations } from './keys/lifecycle.js';
import type { LoginLockPolicy } from './limits/login-throttle.js';
import type { RateLimit } from './limits/request-limiter.js';
import type { DatabaseLocation } from './storage/sql/database.js';

const schema = z.object({
  ...serviceVariables({ port: 4000, metricsPort: 9464 }),
  AUDIENCE: z.string().min(1).default('tessera-api'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'expected sqlite:<path> or postgres://…')
    .optional(),
  KEY_ENCRYPTION_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 32`)')
    .optional(),
  ACCESS_TOKEN_TTL: duration('15m', 30),
  REFRESH_TOKEN_TTL: duration('30d', 60),
  REFRESH_TOKEN_IDLE_TTL: duration('14d', 60),
  REFRESH_TOKEN_REUSE_GRACE: duration('10s', 0),
  KEY_ROTATION_INTERVAL: duration('30d'),
  KEY_RELOAD_INTERVAL: duration('30s').refine((value) => value <= 300, 'must be at most 300s'),
  JWKS_MAX_AGE: duration('5m').refine((value) => value <= 86400, 'must be at most 1d'),
  SIGNING_KEY_SIZE: z.enum(['2048', '3072', '4096']).default('2048').transform(Number),
  TRUST_PROXY: trustProxy(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+/, 'expected redis://… or rediss://…')
    .optional(),
  REDIS_KEY_PREFIX: z.string().min(1).default('tessera:'),
  RATE_LIMIT_IP: rateLimit('120/1m'),
  RATE_LIMIT_CLIENT: rateLimit('600/1m'),
  LOGIN_LOCK_THRESHOLD: integer(5, 1, 1000),
  LOGIN_LOCK_BASE: duration('30s'),
  LOGIN_LOCK_MAX: duration('15m'),
  LOGIN_FAILURE_WINDOW: duration('1h'),
  PASSWORD_HASH_CONCURRENCY: integer(defaultHashConcurrency, 1, 64),
  PASSWORD_HASH_QUEUE: integer(32, 0, 10000),
  SESSION_IDLE_TTL: duration('30m', 60),
  SESSION_TTL: duration('12h', 60),
  TOKEN_EXCHANGE_MAX_DEPTH: integer(3, 1, 10),
});

/**
 * The key-encryption secret as production wants it: 32 random bytes, base64 (standard or URL-safe,
 * padding optional) or hex, as `openssl rand -base64 32` or `openssl rand -hex 32` print them.
 * A passphrase, a shorter key or a pattern (fewer than 16 distinct bytes in 32, which random
 * bytes all but never are: about 30 are expected) is refused.
 */
export function isRandomKeyEncryptionSecret(text: string): boolean {
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) bytes = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/]{43}=?$/.test(text) || /^[A-Za-z0-9_-]{43}$/.test(text))
    bytes = Buffer.from(text, 'base64');
  return bytes !== undefined && bytes.length === 32 && new Set(bytes).size >= 16;
}

/** True when a postgres:// URL still carries the .env.example password placeholder. */
function hasPlaceholderPassword(url: string): boolean {
  try {
    return decodeURIComponent(new URL(url).password).startsWith('change-me');
  } catch {
    return false;
  }
}

/** Every environment variable the auth server reads (checked against docker-compose.yml by a test). */
export const configVariables: readonly string[] = Object.keys(schema.shape);

/** The schema itself, for the configuration reference's generator (defaults are read from it). */
export const configSchema = schema;

/**
 * What docs/configuration.md says about each variable (`npm run docs:config` writes it; a test
 * fails when the committed file differs). Every variable of the schema must be here.
 */
export const configDocs: Readonly<Record<keyof typeof schema.shape, VariableDoc>> = {
  ...commonVariableDocs,
  TOKEN_EXCHANGE_MAX_DEPTH: {
    description: "the most actors an exchanged token's `act` chain may name (RFC 8693); 1 to 10",
  },
  AUDIENCE: {
    description:
      'the one `aud` tokens carried before resources: upgrading a database registers it as a resource for every existing client ([resources](resources.md))',
  },
  DATA_DIR: {
    description: 'the SQLite file and the dev-only generated secret (relative to the working directory)',
  },
  DATABASE_URL: {
    description:
      '`sqlite:<path>` or `postgres://…`. Required in production: each container would otherwise keep its own SQLite file (replicas with different keys, users and revocations); an explicit `sqlite:<path>` is accepted for a single instance',
    default: '`sqlite:<DATA_DIR>/tessera.db`',
  },
  KEY_ENCRYPTION_SECRET: {
    description:
      'encrypts private signing keys at rest (AES-256-GCM) and keys the login-throttle digests; at least 32 characters; production wants 32 random bytes, base64 or hex (`openssl rand -base64 32`)',
    default: 'development: generated under `DATA_DIR` (with a warning); production: required',
  },
  ACCESS_TOKEN_TTL: {
    description: 'access-token lifetime (`90s`, `15m`, `12h`, `30d` or seconds; at least 30s)',
  },
  REFRESH_TOKEN_TTL: { description: 'absolute lifetime of a refresh-token family (from the password grant)' },
  REFRESH_TOKEN_IDLE_TTL: { description: 'a refresh token unused this long expires' },
  REFRESH_TOKEN_REUSE_GRACE: {
    description:
      'a just-rotated refresh token presented again this soon gets the same successor (retries, two tabs) instead of revoking its family',
  },
  KEY_ROTATION_INTERVAL: {
    description:
      "how long a key signs before the pending one takes over; at least the pending key's publication time (see docs/operations.md)",
  },
  KEY_RELOAD_INTERVAL: {
    description:
      'how often each replica applies due key changes and reloads the key set (at most 300s, at most `JWKS_MAX_AGE`)',
  },
  JWKS_MAX_AGE: { description: 'the JWKS `Cache-Control: max-age` (at most 1d; at least 30s in production)' },
  SIGNING_KEY_SIZE: { description: 'RSA modulus of new signing keys: `2048`, `3072` or `4096`' },
  TRUST_PROXY: {
    description:
      "whose `X-Forwarded-For` gives the client IP (the per-IP budgets' key): a hop count (at most 10) or a comma-separated list of proxy addresses, CIDR ranges and `loopback`, `linklocal`, `uniquelocal` (see below)",
  },
  REDIS_URL: {
    description:
      '`redis://…` or `rediss://…`: request budgets and client-assertion ids shared by every replica',
    default: 'unset: budgets in process memory, assertion ids in the database',
  },
  REDIS_KEY_PREFIX: {
    description: 'prefix of every Redis key Tessera writes (deployments sharing one Redis)',
  },
  RATE_LIMIT_IP: {
    description:
      'requests per client IP per window (`<count>/<duration>`), at `/oauth/token`, `/oauth/revoke` and `/oauth/introspect` apart',
  },
  RATE_LIMIT_CLIENT: {
    description: 'requests per authenticated client per window, at each of those endpoints apart',
  },
  LOGIN_LOCK_THRESHOLD: { description: 'failed logins in a row before a username is locked' },
  LOGIN_LOCK_BASE: { description: 'the first lock; each further failure doubles it…' },
  LOGIN_LOCK_MAX: { description: '…up to this; every lock expires by itself' },
  LOGIN_FAILURE_WINDOW: { description: 'failures older than this (since the last one) are forgotten' },
  PASSWORD_HASH_CONCURRENCY: {
    description: 'Argon2 checks running at once (keep it at most `UV_THREADPOOL_SIZE`, 4 by default)',
    default: 'CPUs − 1, between 1 and 4',
  },
  PASSWORD_HASH_QUEUE: { description: 'password checks waiting; beyond both, `503` with `Retry-After: 1`' },
  SESSION_IDLE_TTL: { description: 'a browser sign-in session unused this long ends' },
  SESSION_TTL: {
    description: 'a browser sign-in session ends this long after the password was typed, used or not',
  },
};

/** The auth server's configuration: the basics every service has, and its own. */
export interface AuthConfig extends ServiceConfig {
  issuer: string;
  audience: string;
  dataDir: string;
  database: DatabaseLocation;
  /** Undefined outside production: a dev secret is then generated under `dataDir`. */
  keyEncryptionSecret: string | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  refreshTokenIdleTtlSeconds: number;
  refreshTokenReuseGraceSeconds: number;
  /** The signing-key lifecycle: configured and derived durations (keys/lifecycle.ts). */
  keyDurations: KeyDurations;
  signingKeySize: number;
  /**
   * Which reverse proxies' X-Forwarded-For is trusted, as Express's `trust proxy` takes it: a hop
   * count, or the proxies' addresses, CIDR ranges and range names.
   */
  trustProxy: number | readonly string[];
  /** Rate limits are shared across replicas in this Redis when set; in-process otherwise. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key Tessera writes (several deployments may share one Redis). */
  redisKeyPrefix: string;
  rateLimits: { perIp: RateLimit; perClient: RateLimit };
  loginLock: LoginLockPolicy;
  /** Argon2 hashes running at once, and waiting; beyond both a request is refused with 503. */
  passwordHashing: { concurrency: number; queue: number };
  /** Browser sign-in sessions: unused this long, or this old, they end. */
  session: { idleTtlSeconds: number; ttlSeconds: number };
  /** The longest delegation chain (actors in `act`) a token exchange may produce. */
  tokenExchangeMaxDepth: number;
}

/**
 * Reads the auth server's configuration from an environment. Pure; reports every
 * problem at once as a ConfigError, one line per variable; refuses unsafe settings in
 * production mode.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Readonly<AuthConfig> {
  const raw = readEnv(schema, env);
  const production = raw.NODE_ENV === 'production';
  const dataDir = resolve(raw.DATA_DIR);
  const url = raw.DATABASE_URL ?? `sqlite:${dataDir}/tessera.db`;
  const database: DatabaseLocation = url.startsWith('sqlite:')
    ? { dialect: 'sqlite', file: resolve(url.slice('sqlite:'.length)) }
    : { dialect: 'postgres', connectionString: url };

  const keyDurations = deriveKeyDurations({
    rotationIntervalSeconds: raw.KEY_ROTATION_INTERVAL,
    reloadIntervalSeconds: raw.KEY_RELOAD_INTERVAL,
    jwksMaxAgeSeconds: raw.JWKS_MAX_AGE,
    accessTokenTtlSeconds: raw.ACCESS_TOKEN_TTL,
    clockToleranceSeconds: raw.CLOCK_TOLERANCE,
  });
  const problems = checkKeyDurations(keyDurations);
  if (raw.LOGIN_LOCK_MAX < raw.LOGIN_LOCK_BASE || raw.LOGIN_FAILURE_WINDOW < raw.LOGIN_LOCK_MAX)
    problems.push(
      'LOGIN_LOCK_MAX, LOGIN_FAILURE_WINDOW: need LOGIN_LOCK_BASE ≤ LOGIN_LOCK_MAX ≤ LOGIN_FAILURE_WINDOW',
    );
  if (production) {
    if (raw.KEY_ENCRYPTION_SECRET === undefined)
      problems.push('KEY_ENCRYPTION_SECRET: required in production (the generated dev secret is refused)');
    else if (raw.KEY_ENCRYPTION_SECRET.startsWith('change-me'))
      problems.push(
        'KEY_ENCRYPTION_SECRET: still the .env.example placeholder; set a random one (openssl rand -base64 32)',
      );
    else if (!isRandomKeyEncryptionSecret(raw.KEY_ENCRYPTION_SECRET))
      problems.push(
        'KEY_ENCRYPTION_SECRET: must be 32 random bytes, base64 or hex encoded, in production; make one with `openssl rand -base64 32`',
      );
    // `readEnv` treats an empty value as unset, and so does this check.
    if (env.ISSUER === undefined || env.ISSUER === '')
      problems.push(
        'ISSUER: required in production (the default http://localhost:4000 is for development); set the public https:// URL of the auth server',
      );
    else if (raw.ISSUER.startsWith('http://') && !isLoopbackUrl(raw.ISSUER))
      problems.push('ISSUER: must be https:// in production (http:// only on loopback)');
    // The SQLite default lives in each container: replicas would each sign with their own keys
    // and hold their own users, clients and revocations. An explicit sqlite: URL is a choice.
    if (raw.DATABASE_URL === undefined)
      problems.push(
        'DATABASE_URL: required in production: postgres://… shared by every replica (or sqlite:<path> for a single instance)',
      );
    else if (hasPlaceholderPassword(raw.DATABASE_URL))
      problems.push(
        'DATABASE_URL: the PostgreSQL password is still the .env.example placeholder; set POSTGRES_PASSWORD to a random one (openssl rand -hex 24)',
      );
    // Verifiers do not refresh more often than every 30 s by default (JWKS_MIN_REFRESH), so a
    // shorter max-age would publish keys for less time than the lifecycle counts on.
    if (raw.JWKS_MAX_AGE < 30) problems.push('JWKS_MAX_AGE: must be at least 30s in production');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    ...readServiceConfig(raw),
    audience: raw.AUDIENCE,
    dataDir,
    database,
    keyEncryptionSecret: raw.KEY_ENCRYPTION_SECRET,
    accessTokenTtlSeconds: raw.ACCESS_TOKEN_TTL,
    refreshTokenTtlSeconds: raw.REFRESH_TOKEN_TTL,
    // An idle lifetime beyond the absolute one would never apply.
    refreshTokenIdleTtlSeconds: Math.min(raw.REFRESH_TOKEN_IDLE_TTL, raw.REFRESH_TOKEN_TTL),
    refreshTokenReuseGraceSeconds: raw.REFRESH_TOKEN_REUSE_GRACE,
    keyDurations: Object.freeze(keyDurations),
    signingKeySize: raw.SIGNING_KEY_SIZE,
    trustProxy: raw.TRUST_PROXY,
    redisUrl: raw.REDIS_URL,
    redisKeyPrefix: raw.REDIS_KEY_PREFIX,
    rateLimits: { perIp: raw.RATE_LIMIT_IP, perClient: raw.RATE_LIMIT_CLIENT },
    loginLock: {
      threshold: raw.LOGIN_LOCK_THRESHOLD,
      baseSeconds: raw.LOGIN_LOCK_BASE,
      maxSeconds: raw.LOGIN_LOCK_MAX,
      windowSeconds: raw.LOGIN_FAILURE_WINDOW,
    },
    passwordHashing: { concurrency: raw.PASSWORD_HASH_CONCURRENCY, queue: raw.PASSWORD_HASH_QUEUE },
    session: {
      idleTtlSeconds: Math.min(raw.SESSION_IDLE_TTL, raw.SESSION_TTL),
      ttlSeconds: raw.SESSION_TTL,
    },
    tokenExchangeMaxDepth: raw.TOKEN_EXCHANGE_MAX_DEPTH,
  });
}
