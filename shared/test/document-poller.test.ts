import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createDocumentPoller,
  type CacheDirectives,
  type DocumentPoller,
  type DocumentPollerOptions,
} from '../src/http/document-poller.js';
import { createFixedClock, createLogger } from '../src/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback server (port 0) that records the headers of every request it gets. */
async function startServer() {
  const requests: IncomingHttpHeaders[] = [];
  let handler: Handler = (_req, res) => void res.writeHead(500).end();
  const server = createServer((req, res) => {
    requests.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/document.json`,
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

function json(value: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(value));
  };
}

function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    name: 'test',
    level: 'debug',
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, lines };
}

describe('createDocumentPoller against a loopback server', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  const pollers: Array<DocumentPoller<unknown>> = [];

  function poller<T = { version: number }>(overrides: Partial<DocumentPollerOptions<T>> = {}) {
    const created = createDocumentPoller<T>({
      uri: server.url,
      name: 'test document',
      logger: logSink().logger,
      clock: createFixedClock(),
      parse: (value) => value as T,
      onSuccess: () => 60,
      retrySeconds: () => 60,
      ...overrides,
    });
    pollers.push(created);
    return created;
  }

  beforeAll(async () => {
    server = await startServer();
  });
  afterEach(() => {
    for (const created of pollers.splice(0)) created.stop();
    server.requests.length = 0;
  });
  afterAll(() => server.close());

  it('refuses a relative URL at construction', () => {
    expect(() => poller({ uri: '/document.json' })).toThrow(TypeError);
  });

  it('10 concurrent refresh() calls share one request and one result', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    server.serve((req, res) => {
      void held.then(() => json({ version: 1 })(req, res));
    });
    const documents = poller();

    const calls = Array.from({ length: 10 }, () => documents.refresh());
    release();
    await Promise.all(calls);

    expect(server.requests).toHaveLength(1);
    expect(documents.current()).toEqual({ version: 1 });
    // Once settled, the next refresh is a new request.
    await documents.refresh();
    expect(server.requests).toHaveLength(2);
  });

  it('parse() gets the previous value; when it throws, the previous value is kept and the reason reported', async () => {
    const seen: unknown[] = [];
    const documents = poller<{ version: number }>({
      parse(value, previous) {
        seen.push(previous);
        const { version } = value as { version: unknown };
        if (typeof version !== 'number') throw new Error('document has no version');
        return { version };
      },
    });
    server.serve(json({ version: 1 }));
    await documents.refresh();
    const first = documents.current();

    server.serve(json({ version: 'two' }));
    await documents.refresh();

    expect(documents.current()).toBe(first);
    expect(seen).toEqual([undefined, { version: 1 }]);
    expect(documents.status()).toMatchObject({ loaded: true, lastError: 'document has no version' });

    server.serve(json({ version: 3 }));
    await documents.refresh();
    expect(documents.current()).toEqual({ version: 3 });
    expect(documents.status().lastError).toBeUndefined();
  });

  it('a body that is not JSON is a failure that keeps the previous value', async () => {
    const documents = poller();
    server.serve(json({ version: 1 }));
    await documents.refresh();

    server.serve((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"v'));
    await documents.refresh();

    expect(documents.current()).toEqual({ version: 1 });
    expect(documents.status().lastError).toBe('test document response is not JSON');
  });

  it('refuses a redirect instead of following it: the document comes only from the configured URL', async () => {
    const documents = poller();
    // A redirect to a document the poller would otherwise accept (e.g. an open redirect on the
    // auth server's host pointing at an attacker's key set).
    server.serve((req, res) => {
      if (req.url === '/elsewhere.json') json({ version: 666 })(req, res);
      else res.writeHead(302, { location: '/elsewhere.json' }).end();
    });
    await documents.refresh();

    expect(documents.current()).toBeUndefined();
    expect(documents.status().lastError).toMatch(/redirect/i);
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a body larger than maxBytes, announced by Content-Length', async () => {
    const documents = poller({ maxBytes: 100 });
    server.serve(json({ padding: 'x'.repeat(200) }));

    await documents.refresh();

    expect(documents.current()).toBeUndefined();
    expect(documents.status()).toEqual({
      loaded: false,
      ageSeconds: undefined,
      lastError: 'test document response is too large',
    });
  });

  it('refuses a body larger than maxBytes sent chunked (no Content-Length), keeping the previous value', async () => {
    const documents = poller({ maxBytes: 100 });
    server.serve(json({ version: 1 }));
    await documents.refresh();

    server.serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"padding": "');
      res.write('x'.repeat(200));
      res.end('"}');
    });
    await documents.refresh();

    expect(server.requests).toHaveLength(2);
    expect(documents.current()).toEqual({ version: 1 });
    expect(documents.status().lastError).toBe('test document response is too large');
  });

  // maxBytes is documented as bytes; the body's UTF-8 size is what crosses the wire.
  it('counts maxBytes in bytes: 60 three-byte characters (180 bytes) exceed a 100-byte limit', async () => {
    const documents = poller({ maxBytes: 100 });
    server.serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"padding": "');
      res.end(`${'€'.repeat(60)}"}`);
    });

    await documents.refresh();

    expect(documents.status().lastError).toBe('test document response is too large');
    expect(documents.current()).toBeUndefined();
  });

  it('a 304 before anything was loaded is a failure, and no If-None-Match was sent', async () => {
    const documents = poller();
    server.serve((_req, res) => void res.writeHead(304, { etag: '"v1"' }).end());

    await documents.refresh();

    expect(server.requests[0]?.['if-none-match']).toBeUndefined();
    expect(documents.current()).toBeUndefined();
    expect(documents.status()).toEqual({
      loaded: false,
      ageSeconds: undefined,
      lastError: 'test document request answered HTTP 304',
    });
  });

  it('revalidates with the ETag: a 304 keeps the value, clears the error and resets the age', async () => {
    const clock = createFixedClock();
    const documents = poller({ clock });
    server.serve(json({ version: 1 }, { etag: '"v1"' }));
    await documents.refresh();
    const first = documents.current();

    server.serve((_req, res) => void res.writeHead(503).end());
    clock.advance(30_000);
    await documents.refresh();
    expect(documents.status()).toEqual({
      loaded: true,
      ageSeconds: 30,
      lastError: 'test document request answered HTTP 503',
    });

    server.serve((req, res) => void res.writeHead(req.headers['if-none-match'] === '"v1"' ? 304 : 500).end());
    await documents.refresh();

    expect(server.requests.map((headers) => headers['if-none-match'])).toEqual([undefined, '"v1"', '"v1"']);
    expect(documents.current()).toBe(first);
    expect(documents.status()).toEqual({ loaded: true, ageSeconds: 0, lastError: undefined });
  });

  it('status().ageSeconds follows the injected clock, in whole seconds since the last confirmation', async () => {
    const clock = createFixedClock();
    const documents = poller({ clock });
    expect(documents.status().ageSeconds).toBeUndefined();
    server.serve(json({ version: 1 }));
    await documents.refresh();
    expect(documents.status().ageSeconds).toBe(0);

    clock.advance(1_999);
    expect(documents.status().ageSeconds).toBe(1);
    clock.advance(3_600_001);
    expect(documents.status().ageSeconds).toBe(3602);
    // A clock that steps back never makes the age negative.
    clock.advance(-7_200_000);
    expect(documents.status().ageSeconds).toBe(0);
  });

  it('passes the response cache directives to onSuccess and the failure count to retrySeconds', async () => {
    const seen: CacheDirectives[] = [];
    const failureCounts: number[] = [];
    const documents = poller({
      onSuccess(directives) {
        seen.push(directives);
        return 60;
      },
      retrySeconds(failures) {
        failureCounts.push(failures);
        return 60;
      },
    });

    server.serve(json({ version: 1 }, { 'cache-control': 'public, max-age=42' }));
    await documents.refresh();
    server.serve(json({ version: 1 }));
    await documents.refresh();
    server.serve((_req, res) => void res.writeHead(500).end());
    await documents.refresh();
    await documents.refresh();
    server.serve(json({ version: 2 }, { 'cache-control': 'no-cache, max-age=7' }));
    await documents.refresh();
    server.serve((_req, res) => void res.writeHead(500).end());
    await documents.refresh();
    server.serve(json({ version: 3 }, { 'cache-control': 'max-age=60, stale-if-error=600' }));
    await documents.refresh();

    expect(seen).toEqual([
      { maxAgeSeconds: 42 },
      {},
      { maxAgeSeconds: 7 },
      { maxAgeSeconds: 60, staleIfErrorSeconds: 600 },
    ]);
    expect(failureCounts).toEqual([1, 2, 1]);
  });

  it('an unreachable server is a failure with a reason; refresh() never rejects', async () => {
    const { logger, lines } = logSink();
    const closed = await startServer();
    await closed.close();
    const documents = poller({ uri: closed.url, logger });

    await expect(documents.refresh()).resolves.toBeUndefined();

    expect(documents.status().loaded).toBe(false);
    // Not /ECONNREFUSED/: under jest's vm realm, undici's errors fail `instanceof Error`, so
    // describeError falls back to String(error) and the cause is not shown here (it is in Node).
    expect(documents.status().lastError).toMatch(/fetch failed/);
    expect(
      lines.some((line) => line.level === 40 && line.msg === 'test document load failed; will retry'),
    ).toBe(true);
  });
});
