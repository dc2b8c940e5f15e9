import { newKeyPairSync } from '../src/crypto/key-pair.js';
import { KeyObject, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { calculateJwkThumbprint } from 'jose';
import {
  createFixedClock,
  createJwksKeyProvider,
  createLogger,
  type JwksKeyProvider,
  type Logger,
} from '../src/index.js';

interface SigningJwk extends JsonWebKey {
  kid: string;
}

async function rsaJwk(extra: Partial<JsonWebKey> = {}): Promise<SigningJwk> {
  const { publicKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const kid = await calculateJwkThumbprint({ kty: 'RSA', n: jwk.n, e: jwk.e });
  return { ...jwk, kid, use: 'sig', alg: 'RS256', ...extra };
}

function captureLogs(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const logger = createLogger({
    name: 'test',
    level: 'debug',
    destination: { write: (line: string) => raw.push(line) },
  });
  return { logger, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real JWKS server on a loopback port that records every request it gets. */
async function startJwksServer(initial: Handler) {
  const requests: IncomingHttpHeaders[] = [];
  let handler = initial;
  const server = createServer((req, res) => {
    requests.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    requests,
    serve(next: Handler) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function jwks(keys: unknown[], headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ keys }));
  };
}

describe('createJwksKeyProvider against a JWKS server on loopback', () => {
  let first: SigningJwk;
  let second: SigningJwk;
  let server: Awaited<ReturnType<typeof startJwksServer>>;
  const providers: JwksKeyProvider[] = [];

  function provider(options: { clock?: ReturnType<typeof createFixedClock>; logger?: Logger } = {}) {
    const keys = createJwksKeyProvider({
      jwksUri: server.url,
      logger: options.logger ?? captureLogs().logger,
      clock: options.clock ?? createFixedClock(),
    });
    providers.push(keys);
    return keys;
  }

  beforeAll(async () => {
    [first, second] = await Promise.all([rsaJwk(), rsaJwk()]);
    server = await startJwksServer(jwks([]));
  });
  afterEach(() => {
    for (const keys of providers.splice(0)) keys.stop();
    server.requests.length = 0;
  });
  afterAll(() => server.close());

  it('loads the set on start and returns the same parsed KeyObject for every lookup', async () => {
    server.serve(jwks([first]));
    const keys = provider();
    expect(keys.status()).toEqual({
      loaded: false,
      usable: false,
      keyCount: 0,
      ageSeconds: undefined,
      lastError: undefined,
    });

    await keys.start();

    expect(keys.status()).toEqual({
      loaded: true,
      usable: true,
      keyCount: 1,
      ageSeconds: 0,
      lastError: undefined,
    });
    const key = await keys.getKey(first.kid);
    expect(key).toBeInstanceOf(KeyObject);
    expect(key?.type).toBe('public');
    expect(key?.export({ format: 'jwk' })).toEqual({ kty: 'RSA', n: first.n, e: first.e });
    expect(await keys.getKey(first.kid)).toBe(key);
    expect(server.requests).toHaveLength(1);
  });

  it('revalidates with If-None-Match; a 304 keeps the set and resets its age', async () => {
    server.serve(jwks([first], { etag: '"v1"' }));
    const clock = createFixedClock();
    const keys = provider({ clock });
    await keys.start();
    const key = await keys.getKey(first.kid);
    clock.advance(120_000);
    expect(keys.status().ageSeconds).toBe(120);

    server.serve((req, res) => {
      res.writeHead(req.headers['if-none-match'] === '"v1"' ? 304 : 500).end();
    });
    expect(await keys.getKey('rotated-in-kid')).toBeUndefined(); // an unknown kid forces a refetch

    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.['if-none-match']).toBe('"v1"');
    expect(keys.status()).toEqual({
      loaded: true,
      usable: true,
      keyCount: 1,
      ageSeconds: 0,
      lastError: undefined,
    });
    expect(await keys.getKey(first.kid)).toBe(key);
  });

  it('when 50 callers ask for unknown kids at once, the server sees one request and all share its result', async () => {
    server.serve(jwks([first]));
    const keys = provider();
    await keys.start();
    server.serve(jwks([first, second])); // rotated in after the initial load

    const lookups = Array.from({ length: 50 }, (_, i) =>
      keys.getKey(i % 2 === 0 ? second.kid : `unknown-${i}`),
    );
    const results = await Promise.all(lookups);

    expect(server.requests).toHaveLength(2); // the initial load + one shared refetch
    const secondKey = results[0];
    expect(secondKey).toBeInstanceOf(KeyObject);
    results.forEach((key, i) => expect(key).toBe(i % 2 === 0 ? secondKey : undefined));
  });

  it('after an unknown-kid refetch, unknown kids are answered from memory until the cooldown has passed', async () => {
    server.serve(jwks([first]));
    const clock = createFixedClock();
    const keys = provider({ clock });
    await keys.start();
    await keys.getKey('unknown-1');
    expect(server.requests).toHaveLength(2);

    clock.advance(29_000);
    expect(await keys.getKey('unknown-2')).toBeUndefined();
    expect(server.requests).toHaveLength(2);

    clock.advance(1_000);
    await keys.getKey('unknown-3');
    expect(server.requests).toHaveLength(3);
  });

  it('learns a key published after start through the unknown-kid refetch', async () => {
    server.serve(jwks([first]));
    const keys = provider();
    await keys.start();
    const firstKey = await keys.getKey(first.kid);

    server.serve(jwks([first, second]));
    const secondKey = await keys.getKey(second.kid);

    expect(secondKey?.export({ format: 'jwk' })).toEqual({ kty: 'RSA', n: second.n, e: second.e });
    expect(await keys.getKey(first.kid)).toBe(firstKey); // unchanged keys are not parsed again
    expect(keys.status().keyCount).toBe(2);
  });

  it.each<[string, Handler, string]>([
    ['a 500', (_req, res) => void res.writeHead(500).end('down'), 'HTTP 500'],
    [
      'a body that is not JSON',
      (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": ['),
      'not JSON',
    ],
    ['an empty keys array', jwks([]), 'no usable'],
    ['a document without keys', (_req, res) => void res.writeHead(200).end('{"foo": 1}'), 'no "keys"'],
  ])('keeps the last good set and logs a warning when a refresh gets %s', async (_name, handler, error) => {
    server.serve(jwks([first]));
    const clock = createFixedClock();
    const logs = captureLogs();
    const keys = provider({ clock, logger: logs.logger });
    await keys.start();

    server.serve(handler);
    clock.advance(60_000);
    expect(await keys.getKey(second.kid)).toBeUndefined();

    expect(server.requests).toHaveLength(2);
    const status = keys.status();
    expect(status).toMatchObject({ loaded: true, keyCount: 1, ageSeconds: 60 });
    expect(status.lastError).toContain(error);
    expect(await keys.getKey(first.kid)).toBeInstanceOf(KeyObject);
    const warning = logs.lines().find((line) => line.level === 40);
    expect(warning).toMatchObject({ msg: 'JWKS refresh failed; keeping the last good key set', keptKeys: 1 });
  });

  it('keeps only RSA signing keys for RS256 that have a kid', async () => {
    const ec = newKeyPairSync({ type: 'ec', namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const encryption = await rsaJwk({ use: 'enc' });
    const rs512 = await rsaJwk({ alg: 'RS512' });
    const { kid: _dropped, ...withoutKid } = await rsaJwk();
    const noUseNoAlg = await rsaJwk();
    delete noUseNoAlg.use;
    delete noUseNoAlg.alg;
    server.serve(
      jwks([
        { ...ec, kid: 'ec-key', use: 'sig' },
        encryption,
        rs512,
        withoutKid,
        { kty: 'oct', kid: 'x', k: 'c2VjcmV0' },
        first,
        noUseNoAlg,
      ]),
    );
    const keys = provider();
    await keys.start();

    expect(keys.status().keyCount).toBe(2);
    expect(await keys.getKey(first.kid)).toBeInstanceOf(KeyObject);
    expect(await keys.getKey(noUseNoAlg.kid)).toBeInstanceOf(KeyObject);
    for (const kid of ['ec-key', encryption.kid, rs512.kid, 'x']) {
      expect(await keys.getKey(kid)).toBeUndefined();
    }
  });

  it('never imports a private member published by mistake', async () => {
    const { privateKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
    const privateJwk = privateKey.export({ format: 'jwk' });
    server.serve(jwks([{ ...privateJwk, kid: 'leaky', use: 'sig', alg: 'RS256' }]));
    const keys = provider();
    await keys.start();

    const key = await keys.getKey('leaky');
    expect(key?.type).toBe('public');
  });

  it('start() resolves without keys when the server is unreachable, and reports why', async () => {
    const gone = await startJwksServer(jwks([first]));
    await gone.close();
    const logs = captureLogs();
    const keys = createJwksKeyProvider({ jwksUri: gone.url, logger: logs.logger, clock: createFixedClock() });
    providers.push(keys);

    await expect(keys.start()).resolves.toBeUndefined();

    const status = keys.status();
    expect(status.loaded).toBe(false);
    expect(status.lastError).toEqual(expect.any(String));
    expect(logs.lines().some((line) => line.msg === 'JWKS load failed; will retry')).toBe(true);
  });
});

describe('createJwksKeyProvider scheduling (fake timers, injected fetch)', () => {
  let jwk: SigningJwk;
  beforeAll(async () => {
    jwk = await rsaJwk();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

  /** A fetch that answers from a script and records the headers of every call. */
  function scriptedFetch(replies: Reply[]) {
    const calls: Array<Record<string, string>> = [];
    const fetch = ((_url: string, init?: RequestInit) => {
      calls.push({ ...(init?.headers as Record<string, string>) });
      const reply = replies.shift() ?? { status: 500 };
      if (reply === 'hang') {
        return new Promise<Response>((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new Error('aborted')));
        });
      }
      const body = reply.status === 304 ? null : (reply.body ?? JSON.stringify({ keys: [jwk] }));
      return Promise.resolve(new Response(body, { status: reply.status, headers: reply.headers }));
    }) as typeof globalThis.fetch;
    return { fetch, calls };
  }

  function provider(fetch: typeof globalThis.fetch) {
    return createJwksKeyProvider({
      jwksUri: 'http://auth.invalid/.well-known/jwks.json',
      logger: captureLogs().logger,
      clock: createFixedClock(),
      fetch,
    });
  }

  it('retries a failed first load after 1s, 2s, 4s ... until it succeeds', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { fetch, calls } = scriptedFetch([
      { status: 503 },
      { status: 503 },
      { status: 503 },
      { status: 200 },
    ]);
    const keys = provider(fetch);
    await keys.start();
    expect(keys.status().loaded).toBe(false);

    for (const [delayMs, expectedCalls] of [
      [1000, 2],
      [2000, 3],
      [4000, 4],
    ] as const) {
      await jest.advanceTimersByTimeAsync(delayMs - 1);
      expect(calls).toHaveLength(expectedCalls - 1);
      await jest.advanceTimersByTimeAsync(1);
      expect(calls).toHaveLength(expectedCalls);
    }
    expect(keys.status()).toMatchObject({ loaded: true, keyCount: 1, lastError: undefined });
    keys.stop();
  });

  it('caps the retry delay at minRefreshSeconds', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { fetch, calls } = scriptedFetch([]);
    const keys = createJwksKeyProvider({
      jwksUri: 'http://auth.invalid/jwks',
      logger: captureLogs().logger,
      fetch,
      minRefreshSeconds: 3,
    });
    await keys.start();
    await jest.advanceTimersByTimeAsync(1000 + 2000); // 1s, then 2s
    expect(calls).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(3000); // 4s capped to 3s
    expect(calls).toHaveLength(4);
    await jest.advanceTimersByTimeAsync(3000);
    expect(calls).toHaveLength(5);
    keys.stop();
  });

  it('refreshes at Cache-Control max-age clamped to [min, max], revalidating with the ETag', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { fetch, calls } = scriptedFetch([
      { status: 200, headers: { 'cache-control': 'public, max-age=120', etag: '"a"' } },
      { status: 304, headers: { 'cache-control': 'public, max-age=5' } },
      { status: 200, headers: { 'cache-control': 'max-age=999999' } },
      { status: 200 },
    ]);
    const keys = provider(fetch);
    await keys.start();

    await jest.advanceTimersByTimeAsync(119_999);
    expect(calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.['if-none-match']).toBe('"a"');

    await jest.advanceTimersByTimeAsync(29_999); // max-age=5 is raised to the 30s minimum
    expect(calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(3);

    await jest.advanceTimersByTimeAsync(3_599_999); // max-age=999999 is lowered to the 3600s maximum
    expect(calls).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(4);
    expect(calls[3]?.['if-none-match']).toBeUndefined(); // the last 200 had no ETag
    keys.stop();
  });

  it('aborts a JWKS request after fetchTimeoutMs and keeps serving the held set', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { fetch, calls } = scriptedFetch([{ status: 200 }, 'hang']);
    const keys = provider(fetch);
    await keys.start();

    const lookup = keys.getKey('unknown-kid');
    await jest.advanceTimersByTimeAsync(5000);

    await expect(lookup).resolves.toBeUndefined();
    expect(calls).toHaveLength(2);
    expect(keys.status()).toMatchObject({ loaded: true, keyCount: 1 });
    expect(keys.status().lastError).toContain('timed out');
    expect(await keys.getKey(jwk.kid)).toBeInstanceOf(KeyObject);
    keys.stop();
  });

  it('stop() cancels the scheduled refresh', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { fetch, calls } = scriptedFetch([{ status: 200 }]);
    const keys = provider(fetch);
    await keys.start();
    expect(jest.getTimerCount()).toBe(1);

    keys.stop();

    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(24 * 3600 * 1000);
    expect(calls).toHaveLength(1);
  });
});
