import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createUser, runAdmin } from '../processes.js';
import { password, startSystem, type System } from './system.js';

/**
 * Attacks on the password grant (RFC 6749 §4.3.2 requires brute-force protection; RFC 9700 §2.4
 * deprecates the grant for inviting exactly these), against the real auth server process.
 */

const observable = async (res: Response) => ({
  status: res.status,
  body: await res.text(),
  retryAfter: res.headers.get('retry-after'),
  challenge: res.headers.get('www-authenticate'),
});

describe('RFC 6749 §4.3.2 — brute force and enumeration on one auth server', () => {
  let system: System;
  const attempt = (username: string, pass: string) =>
    system.tokenRequest({ grant_type: 'password', username, password: pass });

  beforeAll(async () => {
    system = await startSystem({
      authEnv: { LOGIN_LOCK_THRESHOLD: '3', LOGIN_LOCK_BASE: '60s', RATE_LIMIT_IP: '10000/1m' },
      resource: false,
    });
    await createUser(system.authEnv, { username: 'bob', password: 'bob-password' });
    expect((await runAdmin(['users', 'disable', '--username', 'bob'], system.authEnv)).code).toBe(0);
  }, 60_000);
  afterAll(() => system.stop());

  test('wrong password, unknown user and disabled user get byte-identical answers', async () => {
    const answers = [
      await observable(await attempt('alice', 'guess-1')),
      await observable(await attempt('no-such-user', 'guess-1')),
      await observable(await attempt('bob', 'bob-password')),
    ];
    expect(answers[0]).toEqual({
      status: 400,
      body: '{"error":"invalid_grant","error_description":"invalid username or password"}',
      retryAfter: null,
      challenge: null,
    });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  test('brute force locks the username: 429 too_many_requests with Retry-After, the same for an unknown username', async () => {
    for (const username of ['alice', 'no-such-user']) {
      for (let i = 2; i <= 3; i++) expect((await attempt(username, `guess-${i}`)).status).toBe(400);
    }
    const locked = await observable(await attempt('alice', password));
    expect(locked).toEqual({
      status: 429,
      body: '{"error":"too_many_requests","error_description":"too many failed attempts; try again later"}',
      retryAfter: expect.stringMatching(/^(59|60)$/),
      challenge: null,
    });
    const unknown = await observable(await attempt('no-such-user', password));
    expect({ ...unknown, retryAfter: null }).toEqual({ ...locked, retryAfter: null });
  });

  test('another username is unaffected, and the operator unlock from the CLI lets the owner in at once', async () => {
    expect((await attempt('carol-unknown', 'x')).status).toBe(400);
    expect((await runAdmin(['users', 'unlock', '--username', 'alice'], system.authEnv)).stdout).toBe(
      'unlocked alice\n',
    );
    expect((await attempt('alice', password)).status).toBe(200);
  });

  test('credentials in the query string and two client authentication methods are 400 invalid_request', async () => {
    const inQuery = await system.tokenRequest(
      { grant_type: 'password', username: 'alice' },
      { query: `?password=${password}` },
    );
    expect(inQuery.status).toBe(400);
    expect(((await inQuery.json()) as { error: string }).error).toBe('invalid_request');
    const twoMethods = await system.tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'web',
      client_secret: system.clientSecret,
    });
    expect(twoMethods.status).toBe(400);
    expect(((await twoMethods.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('RFC 9700 §2.4 — credential stuffing from one address', () => {
  test('many usernames from one client IP run into RATE_LIMIT_IP: 429 with Retry-After', async () => {
    const system = await startSystem({ authEnv: { RATE_LIMIT_IP: '5/1m' }, resource: false });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 7; i++) {
        const res = await system.tokenRequest({
          grant_type: 'password',
          username: `user${i}`,
          password: 'Summer2024!',
        });
        statuses.push(res.status);
        retryAfter ??= res.headers.get('retry-after');
      }
      expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    } finally {
      await system.stop();
    }
  }, 60_000);
});
