import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createFixedClock, createLogger } from '@tessera/shared';
import request, { type Response } from 'supertest';
import { createAuditTrail } from '../src/audit.js';
import { createLoginThrottle, type LoginThrottle } from '../src/limits/login-throttle.js';
import type { LoginThrottleStore } from '../src/storage/storage.js';
import {
  basic,
  createCheapHasher,
  createPasswordClient,
  createTestAuth,
  createTestStorage,
  expectError,
  form,
  openTestStorage,
  type TestAuth,
} from './helpers.js';

const cli = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'dist/src/cli/main.js');
const keyEncryptionSecret = 'test-secret-test-secret-test-secret-0123';
const policy = { threshold: 3, baseSeconds: 10, maxSeconds: 40, windowSeconds: 3600 };

let auth: TestAuth;
let secret: string;
const password = 'correct horse battery staple';

beforeAll(async () => {
  auth = await createTestAuth(
    {
      KEY_ENCRYPTION_SECRET: keyEncryptionSecret,
      LOGIN_LOCK_THRESHOLD: String(policy.threshold),
      LOGIN_LOCK_BASE: `${policy.baseSeconds}s`,
      LOGIN_LOCK_MAX: `${policy.maxSeconds}s`,
      LOGIN_FAILURE_WINDOW: '1h',
      RATE_LIMIT_IP: '100000/1m',
    },
    { hasher: await createCheapHasher() },
  );
  secret = await createPasswordClient(auth);
  for (const username of ['alice', 'bob', 'carol', 'dave', 'erin'])
    await auth.services.users.create({ username, password, scopes: 'a' });
});

afterAll(async () => {
  await auth.close();
});

const login = (username: string, pass: string) =>
  request(auth.app)
    .post('/oauth/token')
    .type('form')
    .set('Authorization', basic('web', secret))
    .send(form(['grant_type', 'password'], ['username', username], ['password', pass]));

const failures = async (username: string) =>
  (await auth.services.storage.loginThrottle.find(auth.services.throttle.keyOf(username)))?.failures;

function expectLocked(res: Response, retryAfterSeconds: number): void {
  expectError(res, 429, 'too_many_requests');
  expect(res.headers['retry-after']).toBe(String(retryAfterSeconds));
}

/** What an attacker can observe of an answer: status, body, Retry-After. */
const observable = (res: Response) => [res.status, res.text, res.headers['retry-after']];

describe('brute force on one username (RFC 6749 §4.3.2, RFC 9700 §2.4)', () => {
  test('after LOGIN_LOCK_THRESHOLD failures the username is locked: 429 with Retry-After, even for the right password', async () => {
    for (let i = 1; i <= policy.threshold; i++)
      expectError(await login('alice', 'wrong'), 400, 'invalid_grant');
    expect(await failures('alice')).toBe(policy.threshold);

    expectLocked(await login('alice', password), policy.baseSeconds);
    auth.clock.advance(4_000);
    expectLocked(await login('alice', password), policy.baseSeconds - 4);
    // Requests refused while locked are not counted, so hammering does not lengthen the lock.
    expect(await failures('alice')).toBe(policy.threshold);
  });

  test('the lock lifts by itself: after Retry-After, the right password works and the failures are forgotten', async () => {
    auth.clock.advance((policy.baseSeconds - 4) * 1000);
    const res = await login('alice', password);
    expect(res.status).toBe(200);
    expect(await failures('alice')).toBeUndefined();
  });

  test('each failure past the threshold doubles the lock, up to LOGIN_LOCK_MAX', async () => {
    for (let i = 1; i <= policy.threshold; i++) await login('bob', 'wrong');
    const locks: string[] = [];
    for (let round = 0; round < 4; round++) {
      const res = await login('bob', password);
      locks.push(res.headers['retry-after'] as string);
      auth.clock.advance(Number(res.headers['retry-after']) * 1000);
      expectError(await login('bob', 'wrong'), 400, 'invalid_grant');
    }
    expect(locks).toEqual(['10', '20', '40', '40']);
  });

  test('an unknown username is counted and locked exactly like a known one: same answers, same Retry-After', async () => {
    const known: unknown[] = [];
    const unknown: unknown[] = [];
    for (let i = 0; i <= policy.threshold + 1; i++) {
      known.push(observable(await login('carol', 'wrong')));
      unknown.push(observable(await login('nobody-at-all', 'wrong')));
    }
    expect(unknown).toEqual(known);
    expect(known.at(-1)).toEqual([429, expect.any(String), String(policy.baseSeconds)]);
    expect(await failures('nobody-at-all')).toBe(policy.threshold);
  });

  test('failures older than LOGIN_FAILURE_WINDOW are forgotten', async () => {
    for (let i = 1; i < policy.threshold; i++) await login('dave', 'wrong');
    auth.clock.advance(3600_000 + 1);
    expectError(await login('dave', 'wrong'), 400, 'invalid_grant');
    expect(await failures('dave')).toBe(1);
  });

  test('an operator lifts a lock with `users unlock` from another process (the CLI, same database)', async () => {
    for (let i = 1; i <= policy.threshold; i++) await login('erin', 'wrong');
    expectLocked(await login('erin', password), policy.baseSeconds);

    const run = (username: string) =>
      new Promise<{ code: number; stdout: string }>((done) => {
        execFile(
          process.execPath,
          [cli, 'users', 'unlock', '--username', username],
          {
            env: {
              PATH: process.env.PATH ?? '',
              DATA_DIR: auth.dataDir,
              KEY_ENCRYPTION_SECRET: keyEncryptionSecret,
            },
          },
          (error, stdout) => done({ code: error === null ? 0 : Number(error.code ?? 1), stdout }),
        );
      });
    expect(await run('erin')).toEqual({ code: 0, stdout: 'unlocked erin\n' });
    expect(await failures('erin')).toBeUndefined();
    expect((await login('erin', password)).status).toBe(200);
    // Unknown or never-locked: still exit 0, and no hint in the answer beyond "nothing recorded".
    expect(await run('erin')).toEqual({ code: 0, stdout: 'no failed logins recorded for erin\n' });
  });
});

const throttleSecret = 'a-test-key-encryption-secret-of-32-characters-or-more';

describe('the throttle against its store', () => {
  test('keys usernames by a keyed digest: stable, normalised, and not a plain hash of what was typed', () => {
    const throttle = createLoginThrottle({
      store: {} as LoginThrottleStore,
      secret: throttleSecret,
      clock: createFixedClock(),
      audit: createAuditTrail(createLogger({ name: 'test', level: 'silent' })),
      policy,
    });
    const other = createLoginThrottle({
      store: {} as LoginThrottleStore,
      secret: `${throttleSecret}-other`,
      clock: createFixedClock(),
      audit: createAuditTrail(createLogger({ name: 'test', level: 'silent' })),
      policy,
    });
    expect(throttle.keyOf('alice')).toBe(throttle.keyOf('alice'));
    // The same NFC normalisation as user names: é composed or decomposed is one username.
    expect(throttle.keyOf('jos\u00e9')).toBe(throttle.keyOf('jose\u0301'));
    expect(throttle.keyOf('alice')).not.toBe(throttle.keyOf('bob'));
    expect(throttle.keyOf('alice')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(throttle.keyOf('alice')).not.toBe(createHash('sha256').update('alice').digest('base64url'));
    expect(other.keyOf('alice')).not.toBe(throttle.keyOf('alice'));
  });

  test('concurrent attempts on two replicas cannot get more than LOGIN_LOCK_THRESHOLD guesses through', async () => {
    const primary = await createTestStorage();
    const { storage } = primary;
    const replica = await openTestStorage(primary.file);
    const clock = createFixedClock();
    const logger = createLogger({ name: 'test', level: 'silent' });
    const [first, second] = [storage, replica].map((store) =>
      createLoginThrottle({
        store: store.loginThrottle,
        secret: throttleSecret,
        clock,
        audit: createAuditTrail(logger),
        policy,
      }),
    ) as [LoginThrottle, LoginThrottle];
    const onReplica = (i: number) => (i % 2 === 0 ? first : second).begin('target');
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => onReplica(i)));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(policy.threshold);
    expect(
      outcomes.every(
        (outcome) =>
          outcome.status === 'fulfilled' ||
          (outcome.reason as { code?: string }).code === 'too_many_requests',
      ),
    ).toBe(true);

    // Refused ones that raced past the first reading were counted too (so the lock may have
    // grown); once it expires, only one of a burst goes through.
    const stored = await storage.loginThrottle.find(first.keyOf('target'));
    expect(stored?.failures).toBeGreaterThan(policy.threshold);
    clock.advance(policy.maxSeconds * 1000);
    const burst = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => onReplica(i)));
    expect(burst.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    await replica.close();
    await primary.close();
  });

  test('prune deletes only records whose failures are already forgotten', async () => {
    const fresh = await createTestStorage();
    const { storage } = fresh;
    const clock = createFixedClock();
    const throttle = createLoginThrottle({
      store: storage.loginThrottle,
      secret: throttleSecret,
      clock,
      audit: createAuditTrail(createLogger({ name: 'test', level: 'silent' })),
      policy,
    });
    await throttle.begin('old');
    clock.advance(3600_000 + 1);
    await throttle.begin('recent');
    expect(await throttle.prune()).toBe(1);
    expect(await storage.loginThrottle.find(throttle.keyOf('old'))).toBeUndefined();
    expect(await storage.loginThrottle.find(throttle.keyOf('recent'))).toEqual({
      failures: 1,
      lastFailureAt: clock.now(),
    });
    await fresh.close();
  });
});

describe('log injection through the username', () => {
  test('a username with a newline, a forged JSON line and ANSI escapes never reaches the log: the lock is logged by its digest, one JSON record per line', async () => {
    const hostile = 'mallory\n{"level":30,"msg":"forged admin login"}\r\u001b[31mRED\u001b[0m\u2028';
    const before = auth.lines.length;
    for (let i = 0; i < policy.threshold; i++)
      expectError(await login(hostile, 'wrong'), 400, 'invalid_grant');
    const lines = auth.lines.slice(before);

    const records = lines.map((line) => JSON.parse(line) as { msg?: string; event?: string });
    const locked = records.filter((record) => record.event === 'login.locked');
    expect(locked).toEqual([
      expect.objectContaining({
        username_digest: auth.services.throttle.keyOf(hostile),
        failures: policy.threshold,
      }),
    ]);
    expect(locked[0]).not.toHaveProperty('username');
    expect(records.some((record) => record.msg === 'forged admin login')).toBe(false);
    // One record per line: no raw control character (newline, CR, ESC) reaches the output.
    for (const line of lines) expect([...line].filter((char) => char < ' ')).toEqual([]);
    // Nor any part of the username, raw or JSON-escaped: it may be a password typed in the wrong box.
    const output = lines.join('\n');
    for (const fragment of ['mallory', 'forged admin login']) expect(output).not.toContain(fragment);
  });
});
