import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { ConfigError } from '@tessera/shared';
import { loadConfig } from '../src/config.js';

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  test('an empty environment gives working development defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      production: false,
      port: 4000,
      host: '127.0.0.1',
      // Metrics on their own listener, loopback only unless METRICS_HOST says otherwise.
      metrics: { port: 9464, host: '127.0.0.1' },
      issuer: 'http://localhost:4000',
      audience: 'tessera-api',
      dataDir: resolve('./data'),
      database: { dialect: 'sqlite', file: resolve('./data/tessera.db') },
      keyEncryptionSecret: undefined,
      accessTokenTtlSeconds: 900,
      signingKeySize: 2048,
      logLevel: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('the SQLite file lives under DATA_DIR unless DATABASE_URL says otherwise', () => {
    expect(loadConfig({ DATA_DIR: '/srv/tessera' }).database).toEqual({
      dialect: 'sqlite',
      file: '/srv/tessera/tessera.db',
    });
    expect(loadConfig({ DATA_DIR: '/srv/tessera', DATABASE_URL: 'sqlite:/var/db/t.db' }).database).toEqual({
      dialect: 'sqlite',
      file: '/var/db/t.db',
    });
  });

  test('an empty variable counts as unset', () => {
    expect(loadConfig({ PORT: '', ACCESS_TOKEN_TTL: '' })).toMatchObject({
      port: 4000,
      accessTokenTtlSeconds: 900,
    });
  });

  test('a trailing slash on ISSUER is dropped', () => {
    expect(loadConfig({ ISSUER: 'https://auth.example.com/' }).issuer).toBe('https://auth.example.com');
  });
});

describe('durations', () => {
  test.each([
    ['90s', 90],
    ['15m', 900],
    ['12h', 43200],
    ['1d', 86400],
    ['60', 60],
  ])('ACCESS_TOKEN_TTL=%s is %i seconds', (text, seconds) => {
    expect(loadConfig({ ACCESS_TOKEN_TTL: text }).accessTokenTtlSeconds).toBe(seconds);
  });

  test.each(['15 minutes', '-5m', '1.5h', '10', 'm'])(
    'ACCESS_TOKEN_TTL=%s is refused, naming the variable',
    (text) => {
      expect(configError({ ACCESS_TOKEN_TTL: text }).problems).toEqual([
        expect.stringMatching(/^ACCESS_TOKEN_TTL: /),
      ]);
    },
  );
});

describe('problems', () => {
  test('a bad PORT and a bad ACCESS_TOKEN_TTL are reported together in one ConfigError', () => {
    const error = configError({ PORT: 'abc', ACCESS_TOKEN_TTL: 'soon' });
    expect(error.problems).toHaveLength(2);
    expect(error.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT: /),
        expect.stringMatching(/^ACCESS_TOKEN_TTL: /),
      ]),
    );
    expect(error.message.split('\n')).toHaveLength(2);
  });

  test.each([
    ['PORT', '70000'],
    ['ISSUER', 'ftp://auth.example.com'],
    ['ISSUER', 'not a url'],
    ['DATABASE_URL', 'mysql://db/tessera'],
    ['KEY_ENCRYPTION_SECRET', 'too-short'],
    ['SIGNING_KEY_SIZE', '1024'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'loud'],
  ])('%s=%s is refused, every problem naming the variable', (name, value) => {
    const { problems } = configError({ [name]: value });
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem).toMatch(new RegExp(`^${name}: `));
  });
});

describe('production', () => {
  // What `openssl rand -base64 32` prints.
  const secret = randomBytes(32).toString('base64');
  /** A production environment that passes; each test spoils one thing. */
  const production = {
    NODE_ENV: 'production',
    KEY_ENCRYPTION_SECRET: secret,
    ISSUER: 'https://auth.example.com',
    DATABASE_URL: 'postgres://tessera:s3cret-from-openssl@postgres:5432/tessera',
  };

  test('without KEY_ENCRYPTION_SECRET is refused', () => {
    const error = configError({ ...production, KEY_ENCRYPTION_SECRET: undefined });
    expect(error.problems).toEqual([expect.stringMatching(/^KEY_ENCRYPTION_SECRET: /)]);
  });

  test('with an http:// issuer on a non-loopback host is refused', () => {
    const error = configError({ ...production, ISSUER: 'http://auth.example.com' });
    expect(error.problems).toEqual([expect.stringMatching(/^ISSUER: /)]);
  });

  test('both problems are reported at once', () => {
    const error = configError({
      ...production,
      KEY_ENCRYPTION_SECRET: undefined,
      ISSUER: 'http://auth.example.com',
    });
    expect(error.problems).toHaveLength(2);
  });

  test.each([
    'http://localhost:4000',
    'http://127.0.0.1:4000',
    'http://[::1]:4000',
    'https://auth.example.com',
  ])('ISSUER=%s is allowed', (issuer) => {
    const config = loadConfig({ ...production, ISSUER: issuer });
    expect(config).toMatchObject({ production: true, issuer, keyEncryptionSecret: secret });
  });

  test.each<[string, Record<string, string | undefined>, RegExp]>([
    [
      'the default issuer (ISSUER unset)',
      { ISSUER: undefined },
      /^ISSUER: required in production \(the default http:\/\/localhost:4000 is for development\)/,
    ],
    ['an empty ISSUER (unset, as in a compose file)', { ISSUER: '' }, /^ISSUER: required in production/],
    [
      'an unset DATABASE_URL (a SQLite file per container)',
      { DATABASE_URL: undefined },
      /^DATABASE_URL: required in production: postgres:\/\/… shared by every replica/,
    ],
    [
      'the .env.example PostgreSQL password',
      { DATABASE_URL: 'postgres://tessera:change-me-openssl-rand-hex-24@postgres:5432/tessera' },
      /^DATABASE_URL: the PostgreSQL password is still the \.env\.example placeholder; set POSTGRES_PASSWORD .*openssl rand -hex 24/,
    ],
    [
      'a passphrase as KEY_ENCRYPTION_SECRET',
      { KEY_ENCRYPTION_SECRET: 'a-production-secret-a-production-secret' },
      /^KEY_ENCRYPTION_SECRET: must be 32 random bytes, base64 or hex encoded, in production; make one with `openssl rand -base64 32`$/,
    ],
    [
      '16 bytes in hex',
      { KEY_ENCRYPTION_SECRET: randomBytes(16).toString('hex') },
      /^KEY_ENCRYPTION_SECRET: must be 32 random bytes/,
    ],
    [
      '48 bytes in base64',
      { KEY_ENCRYPTION_SECRET: randomBytes(48).toString('base64') },
      /^KEY_ENCRYPTION_SECRET: must be 32 random bytes/,
    ],
    [
      '32 zero bytes in hex',
      { KEY_ENCRYPTION_SECRET: '0'.repeat(64) },
      /^KEY_ENCRYPTION_SECRET: must be 32 random bytes/,
    ],
    [
      'a repeated pattern in base64',
      { KEY_ENCRYPTION_SECRET: Buffer.alloc(32, 'ab').toString('base64') },
      /^KEY_ENCRYPTION_SECRET: must be 32 random bytes/,
    ],
  ])('refuses %s, in exactly one line', (_what, spoil, line) => {
    expect(configError({ ...production, ...spoil }).problems).toEqual([expect.stringMatching(line)]);
  });

  test.each([
    ['base64', randomBytes(32).toString('base64')],
    ['base64 without padding', randomBytes(32).toString('base64').replace(/=+$/, '')],
    ['base64url', randomBytes(32).toString('base64url')],
    ['hex', randomBytes(32).toString('hex')],
    ['upper-case hex', randomBytes(32).toString('hex').toUpperCase()],
  ])('accepts 32 random bytes as KEY_ENCRYPTION_SECRET in %s', (_encoding, value) => {
    expect(loadConfig({ ...production, KEY_ENCRYPTION_SECRET: value }).keyEncryptionSecret).toBe(value);
  });

  test('accepts an explicit sqlite: DATABASE_URL (a single instance, chosen knowingly)', () => {
    expect(
      loadConfig({ ...production, DATABASE_URL: 'sqlite:/var/lib/tessera/tessera.db' }).database,
    ).toEqual({
      dialect: 'sqlite',
      file: '/var/lib/tessera/tessera.db',
    });
  });

  test('development mode still runs on the embedded defaults', () => {
    expect(loadConfig({})).toMatchObject({ production: false, issuer: 'http://localhost:4000' });
  });
});

test('DATABASE_URL=postgres://… selects PostgreSQL with the URL as connection string', () => {
  const url = 'postgres://tessera:pw@db.internal:5432/tessera?sslmode=require';
  expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ dialect: 'postgres', connectionString: url });
  expect(loadConfig({ DATABASE_URL: 'postgresql://db/tessera' }).database).toEqual({
    dialect: 'postgres',
    connectionString: 'postgresql://db/tessera',
  });
});

describe('production mode and the .env.example placeholder', () => {
  test('refuses a KEY_ENCRYPTION_SECRET still set to the change-me placeholder', () => {
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        ISSUER: 'https://auth.example',
        DATABASE_URL: 'postgres://tessera:pw@postgres/tessera',
        KEY_ENCRYPTION_SECRET: 'change-me-to-32-random-bytes-base64-encoded',
      }),
    ).toThrow(/KEY_ENCRYPTION_SECRET: still the \.env\.example placeholder/);
  });
});

describe('abuse limits', () => {
  test('defaults: in-process limits, documented budgets and lock policy, CORS off', () => {
    expect(loadConfig({})).toMatchObject({
      corsOrigins: [],
      trustProxy: 0,
      redisUrl: undefined,
      redisKeyPrefix: 'tessera:',
      rateLimits: {
        perIp: { points: 120, durationSeconds: 60 },
        perClient: { points: 600, durationSeconds: 60 },
      },
      loginLock: { threshold: 5, baseSeconds: 30, maxSeconds: 900, windowSeconds: 3600 },
      passwordHashing: { concurrency: expect.any(Number), queue: 32 },
    });
  });

  test('rate limits read <count>/<duration>', () => {
    expect(loadConfig({ RATE_LIMIT_IP: '10/30s' }).rateLimits.perIp).toEqual({
      points: 10,
      durationSeconds: 30,
    });
  });

  test.each([
    [{ RATE_LIMIT_IP: '10' }, /^RATE_LIMIT_IP: expected <count>\/<duration>/],
    [{ RATE_LIMIT_CLIENT: '0/1m' }, /^RATE_LIMIT_CLIENT: /],
    [{ REDIS_URL: 'http://redis' }, /^REDIS_URL: expected redis:\/\//],
    [{ LOGIN_LOCK_BASE: '1h', LOGIN_LOCK_MAX: '15m' }, /^LOGIN_LOCK_MAX, LOGIN_FAILURE_WINDOW: /],
    [{ LOGIN_LOCK_MAX: '2h' }, /^LOGIN_LOCK_MAX, LOGIN_FAILURE_WINDOW: /],
    [{ PASSWORD_HASH_CONCURRENCY: '0' }, /^PASSWORD_HASH_CONCURRENCY: /],
    [{ TRUST_PROXY: '11' }, /^TRUST_PROXY: a hop count must be at most 10; list the proxies instead$/],
    [
      { TRUST_PROXY: '10.0.0.0/8,proxy.internal' },
      /^TRUST_PROXY: "proxy.internal" is not an IP address, a CIDR/,
    ],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /^TRUST_PROXY: "10.0.0.0\/33": the prefix length must be 1 to 32/],
    [{ TRUST_PROXY: '0.0.0.0/0' }, /^TRUST_PROXY: "0.0.0.0\/0" trusts every address; list only your proxies/],
    [{ TRUST_PROXY: '::/0' }, /^TRUST_PROXY: "::\/0" trusts every address/],
    [{ TRUST_PROXY: ',' }, /^TRUST_PROXY: expected a hop count or a list/],
  ])('%j is refused with one line naming the variable', (env, message) => {
    expect(configError(env).problems).toEqual([expect.stringMatching(message)]);
  });

  test.each<[string, number | string[]]>([
    ['2', 2],
    ['10.0.0.0/8', ['10.0.0.0/8']],
    [' 203.0.113.7 , 10.1.0.0/16,loopback ', ['203.0.113.7', '10.1.0.0/16', 'loopback']],
    ['2001:db8::/32,uniquelocal,linklocal', ['2001:db8::/32', 'uniquelocal', 'linklocal']],
  ])('TRUST_PROXY=%j is read as Express `trust proxy` takes it', (text, value) => {
    expect(loadConfig({ TRUST_PROXY: text }).trustProxy).toEqual(value);
  });
});
