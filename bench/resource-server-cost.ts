/**
 * `node bench/dist/resource-server-cost.js [requests] [rounds]`: server CPU per `/api/me` request
 * of the resource server's real app (`createApp`, as main.ts builds it: key provider, revocation
 * feed, metrics, `LOG_LEVEL=warn`), in process, without sockets or the HTTP parser, so the
 * figure is what our code and Express cost and little else. It still moves with the machine's
 * load (CPU time stretches when the cores are contended): compare ratios to bare Express from
 * the same run.
 *
 * Each request is a real `IncomingMessage`/`ServerResponse` pair on a socket stub that discards
 * what is written; the response's `close` is emitted after `finish`, as Node's server does, so
 * the request log and the latency histogram run. Requests go one at a time. Rounds alternate
 * three variants: a bare Express JSON route (bench/servers/bare-express.ts's), /api/me with one
 * token repeated (a verified-token cache hit) and /api/me with a fresh token every request
 * (tokens signed here, more than the cache admits). Prints the median µs of CPU per request
 * of each. `VARIANTS=fresh,repeated` runs only those (e.g. under `--cpu-prof`).

 */
import { randomUUID, sign } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import express, { type Express } from 'express';
import {
  createJwksKeyProvider,
  createLogger,
  createRevocationFeed,
  newKeyPairSync,
  toRevocationFeedDocument,
} from '@tessera/shared';
// The built app, as main.ts imports it (the package exports only its config to other workspaces).
const { createApp } = (await import(
  new URL('../../resource-server/dist/src/app.js', import.meta.url).href
)) as typeof import('../resource-server/dist/src/app.js');

const requests = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 5);
const issuer = 'http://127.0.0.1:4000';
const audience = 'http://127.0.0.1:4001';
const kid = 'bench-key';
const logger = createLogger({ name: 'resource-server', level: 'warn' });

/** Access tokens as the auth server issues them (client_credentials shape), and the JWK that verifies them. */
function mintTokens(count: number): { jwk: object; tokens: string[] } {
  const { privateKey, publicKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid })).toString('base64url');
  const tokens = Array.from({ length: count }, () => {
    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuer,
      sub: 'bench-client',
      aud: audience,
      client_id: 'bench-client',
      scope: 'notes:read notes:write',
      iat,
      exp: iat + 3600,
      jti: randomUUID(),
    };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  });
  return { jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }, tokens };
}
// More distinct tokens than the cache's doorkeeper admits between clearings (4,096 sightings).
const { jwk, tokens: pool } = mintTokens(6000);
const keys = createJwksKeyProvider({
  jwksUri: `${issuer}/.well-known/jwks.json`,
  logger,
  fetch: () =>
    Promise.resolve(Response.json({ keys: [jwk] }, { headers: { 'cache-control': 'max-age=3600' } })),
});
const revocations = createRevocationFeed({
  uri: `${issuer}/oauth/revocations`,
  logger,
  fetch: () => Promise.resolve(Response.json(toRevocationFeedDocument([], Math.floor(Date.now() / 1000)))),
});
await Promise.all([keys.start(), revocations.start()]);
const tessera = createApp({ config: { issuer, audience }, logger, keys, revocations });

const bare = express();
bare.get('/json', (_req, res) => {
  res.json({ ok: true });
});

const repeated = pool[0] as string;
/** The fresh variant's next token: never one it sent before while the pool lasts (the bench cycles 6,000 too). */
let freshNext = 1;

/** A socket that takes whatever is written and drops it. */
const socket = new Duplex({
  read() {},
  write(_chunk, _encoding, done) {
    done();
  },
  writev(_chunks, done) {
    done();
  },
});

/** One request through `app`, resolved when its response has closed. */
function handle(app: Express, path: string, authorization: string | undefined): Promise<number> {
  return new Promise((resolve) => {
    const req = new IncomingMessage(socket as never);
    req.method = 'GET';
    req.url = path;
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    req.httpVersion = '1.1';
    req.headers = authorization === undefined ? { host: 'bench' } : { host: 'bench', authorization };
    req.complete = true;
    req.push(null);
    const res = new ServerResponse(req);
    res.shouldKeepAlive = true;
    res.assignSocket(socket as never);
    res.once('finish', () => {
      res.detachSocket(socket as never);
      process.nextTick(() => {
        res.emit('close');
        resolve(res.statusCode);
      });
    });
    app(req as never, res as never);
  });
}

const only = process.env.VARIANTS?.split(',');
const allVariants = {
  bare: () => handle(bare, '/json', undefined),
  repeated: () => handle(tessera, '/api/me', `Bearer ${repeated}`),
  fresh: () => handle(tessera, '/api/me', `Bearer ${pool[freshNext++ % pool.length] as string}`),
};
const variants = Object.fromEntries(
  Object.entries(allVariants).filter(([name]) => only === undefined || only.includes(name)),
);
const results = new Map<string, number[]>();
for (let round = 0; round <= rounds; round++) {
  for (const [name, run] of Object.entries(variants)) {
    const before = process.cpuUsage();
    for (let i = 0; i < requests; i++) {
      const status = await run();
      if (status !== 200) throw new Error(`${name}: HTTP ${status}`);
    }
    const used = process.cpuUsage(before);
    if (round === 0) continue;
    results.set(name, [...(results.get(name) ?? []), (used.user + used.system) / requests]);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
for (const [name, cpu] of results) {
  console.log(
    `${name.padEnd(9)} ${median(cpu).toFixed(1).padStart(6)} µs CPU per request (${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)})`,
  );
}
keys.stop();
revocations.stop();
