import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, duration, httpUrl, isLoopbackUrl, logLevel, port, readEnv } from '@tessera/shared';
import { checkKeyDurations, deriveKeyDurations, type KeyDurations } from './keys/lifecycle.js';

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  ISSUER: httpUrl().default('http://localhost:4000'),
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
  CLOCK_TOLERANCE: duration('30s', 0).refine((value) => value <= 300, 'must be at most 300s'),
  SIGNING_KEY_SIZE: z.enum(['2048', '3072', '4096']).default('2048').transform(Number),
  LOG_LEVEL: logLevel,
});

/** Every environment variable the auth server reads (checked against docker-compose.yml by a test). */
export const configVariables: readonly string[] = Object.keys(schema.shape);

export type DatabaseLocation =
  { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; connectionString: string };

export interface AuthConfig {
  production: boolean;
  port: number;
  host: string;
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
  logLevel: z.output<typeof logLevel>;
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
  if (production) {
    if (raw.KEY_ENCRYPTION_SECRET === undefined)
      problems.push('KEY_ENCRYPTION_SECRET: required in production (the generated dev secret is refused)');
    else if (raw.KEY_ENCRYPTION_SECRET.startsWith('change-me'))
      problems.push(
        'KEY_ENCRYPTION_SECRET: still the .env.example placeholder; set a random one (openssl rand -base64 32)',
      );
    if (raw.ISSUER.startsWith('http://') && !isLoopbackUrl(raw.ISSUER))
      problems.push('ISSUER: must be https:// in production (http:// only on loopback)');
    // Verifiers do not refresh more often than every 30 s by default (JWKS_MIN_REFRESH), so a
    // shorter max-age would publish keys for less time than the lifecycle counts on.
    if (raw.JWKS_MAX_AGE < 30) problems.push('JWKS_MAX_AGE: must be at least 30s in production');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    production,
    port: raw.PORT,
    host: raw.HOST,
    issuer: raw.ISSUER,
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
    logLevel: raw.LOG_LEVEL,
  });
}
