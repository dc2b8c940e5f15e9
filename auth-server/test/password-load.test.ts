import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { listen } from '@tessera/shared';
import { createConcurrencyLimit } from '../src/limits/concurrency-limit.js';
import type { PasswordHasher } from '../src/users/passwords.js';
import {
  basic,
  createCheapHasher,
  createPasswordClient,
  createTestAuth,
  form,
  type TestAuth,
} from './helpers.js';

function deferred() {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('createConcurrencyLimit', () => {
  test('runs at most `concurrency` tasks, queues up to `queue`, refuses the rest at once with 503', async () => {
    const limit = createConcurrencyLimit({ concurrency: 2, queue: 1 });
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let most = 0;
    const task = (gate: { promise: Promise<void> }) => async () => {
      running += 1;
      most = Math.max(most, running);
      await gate.promise;
      running -= 1;
      return 'done';
    };
    const runs = gates.map((gate) => limit.run(task(gate)));
    expect({ active: limit.active, waiting: limit.waiting }).toEqual({ active: 2, waiting: 1 });

    await expect(limit.run(() => Promise.resolve('never'))).rejects.toMatchObject({
      code: 'temporarily_unavailable',
      status: 503,
      headers: { 'Retry-After': '1' },
    });
    for (const gate of gates) gate.resolve();
    expect(await Promise.all(runs)).toEqual(['done', 'done', 'done']);
    expect(most).toBe(2);
    expect({ active: limit.active, waiting: limit.waiting }).toEqual({ active: 0, waiting: 0 });
  });

  test('a failing task releases its slot', async () => {
    const limit = createConcurrencyLimit({ concurrency: 1, queue: 0 });
    await expect(limit.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit.run(() => Promise.resolve(1))).toBe(1);
  });
});

describe('password checks in flight are bounded (PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE)', () => {
  let auth: TestAuth;
  let secret: string;
  const gate = deferred();
  let verifying = 0;

  beforeAll(async () => {
    const real = await createCheapHasher();
    // A hasher that holds every verification until the test opens the gate.
    const held: PasswordHasher = {
      hash: (password) => real.hash(password),
      async verify(stored, password) {
        verifying += 1;
        await gate.promise;
        return real.verify(stored, password);
      },
    };
    auth = await createTestAuth(
      { PASSWORD_HASH_CONCURRENCY: '2', PASSWORD_HASH_QUEUE: '1' },
      { hasher: held },
    );
    secret = await createPasswordClient(auth);
    await auth.services.users.create({ username: 'alice', password: 'correct horse', scopes: 'a' });
  });
  afterAll(() => auth.close());

  test('beyond concurrency + queue a request gets a quick 503 temporarily_unavailable with Retry-After, not counted as a failure', async () => {
    const server = await listen(auth.app, { port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${server.port}/oauth/token`;
    const attempt = (username: string) =>
      fetch(url, {
        method: 'POST',
        headers: { Authorization: basic('web', secret), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form(['grant_type', 'password'], ['username', username], ['password', 'correct horse']),
      });
    const held = [attempt('alice'), attempt('alice'), attempt('alice')];
    while (verifying < 2) await new Promise((resolve) => setImmediate(resolve));

    // Answered while the gate still holds every check: refused at once, not queued behind them.
    const refused = await attempt('bob');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect(
      await auth.services.storage.loginThrottle.find(auth.services.throttle.keyOf('bob')),
    ).toBeUndefined();
    expect(verifying).toBe(2);

    gate.resolve();
    expect((await Promise.all(held)).map((res) => res.status)).toEqual([200, 200, 200]);
    await server.close();
  });
});
