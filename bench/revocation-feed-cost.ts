/**
 * `node --expose-gc bench/dist/revocation-feed-cost.js [count]`: what the JWKS and the revocation
 * feed cost one resource server when the feed lists `count` (default 100,000) revoked `jti`s.
 *
 * A loopback HTTP server in this process serves a JWKS (one RS256 key) and a feed document built
 * by the auth server's own `toRevocationFeedDocument` from `count` random jti entries, with an
 * ETag each. The resource server's own `createJwksKeyProvider` and `createRevocationFeed` load
 * them over HTTP, as in production. Reports:
 * - the feed's size on the wire and the heap the held list takes (after full GCs);
 * - the first load, and five loads of the document again (what a poll costs once a revocation
 *   changed it; an unchanged one is a 304 with no body), wall and this process's CPU (both ends
 *   are in this process; the serving side only writes a prepared buffer);
 * - the per-request check (`isRevoked` on a token's claims) with the full list against an empty
 *   one, and the key lookup (`getKey`) per request.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  createJwksKeyProvider,
  createLogger,
  createRevocationFeed,
  newKeyPairSync,
  toRevocationFeedDocument,
  type RevocationEntry,
} from '@tessera/shared';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc');
  process.exit(2);
}
function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const count = Number(process.argv[2] ?? 100_000);
const logger = createLogger({ name: 'bench', level: 'warn' });
const now = Math.floor(Date.now() / 1000);

const { publicKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const jwks = Buffer.from(
  JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }),
);
/** The feed document as the auth server publishes it. */
function feedBody(entries: RevocationEntry[]): Buffer {
  return Buffer.from(JSON.stringify(toRevocationFeedDocument(entries, now)));
}
const revokedJtis = Array.from({ length: count }, () => randomUUID());
const entries: RevocationEntry[] = revokedJtis.map((value) => ({ kind: 'jti', value, revokedAt: now }));
let feed = { body: feedBody(entries), etag: '"v1"' };

const server = createServer((req, res) => {
  const document = req.url === '/jwks' ? { body: jwks, etag: '"k1"' } : feed;
  res.setHeader('ETag', document.etag);
  res.setHeader('Cache-Control', 'max-age=3600');
  if (req.headers['if-none-match'] === document.etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json');
  res.end(document.body);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Wall and CPU time of one awaited step, in ms. */
async function timed(step: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  await step();
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
}
const ms = ({ wallMs, cpuMs }: { wallMs: number; cpuMs: number }) =>
  `${wallMs.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU`;

// --- JWKS
const beforeKeys = heapUsed();
const keys = createJwksKeyProvider({ jwksUri: `${base}/jwks`, logger });
const keysLoad = await timed(() => keys.start());
const keysHeap = heapUsed() - beforeKeys;
if (!keys.status().usable) throw new Error('the JWKS did not load');

// --- Revocation feed
const beforeFeed = heapUsed();
const revocations = createRevocationFeed({ uri: `${base}/feed`, logger, refreshSeconds: 3600 });
const firstLoad = await timed(() => revocations.start());
const feedHeap = heapUsed() - beforeFeed;
if (revocations.status().entries !== count) throw new Error('the feed did not load');
// A changed document is read whole again (a poll after a revocation came in): as a first load.
const reloads: Array<{ wallMs: number; cpuMs: number }> = [];
while (reloads.length < 5) {
  feed = { body: feed.body, etag: `"v${reloads.length + 2}"` };
  const again = createRevocationFeed({ uri: `${base}/feed`, logger, refreshSeconds: 3600 });
  const load = await timed(() => again.start());
  // A failed attempt (a reset keep-alive connection on a loaded machine) is not a load: again.
  if (again.status().loaded) reloads.push(load);
  again.stop();
}

// --- Per request
const claims = (jti: string) => ({
  iss: base,
  sub: randomUUID(),
  aud: base,
  client_id: 'web-app',
  sid: randomUUID(),
  iat: now,
  exp: now + 900,
  jti,
});
const live = Array.from({ length: 10_000 }, () => claims(randomUUID()));
const revoked = revokedJtis.slice(0, 10_000).map(claims);
const empty = createRevocationFeed({ uri: `${base}/empty`, logger, refreshSeconds: 3600 });
feed = { body: feedBody([]), etag: '"empty"' };
await empty.start();
feed = { body: Buffer.alloc(0), etag: '"gone"' };

/** CPU µs per call of `check` over `claimsList`, best of 7 passes. */
function perCall(check: (c: (typeof live)[number]) => unknown, claimsList: typeof live): number {
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 7; pass++) {
    const cpu = process.cpuUsage();
    for (const c of claimsList) check(c);
    const used = process.cpuUsage(cpu);
    best = Math.min(best, (used.user + used.system) / claimsList.length);
  }
  return best;
}
if (!revoked.every((c) => revocations.isRevoked(c)) || live.some((c) => revocations.isRevoked(c)))
  throw new Error('the check disagrees with the list');
const checkFull = perCall((c) => revocations.isRevoked(c), live);
const checkRevoked = perCall((c) => revocations.isRevoked(c), revoked);
const checkEmpty = perCall((c) => empty.isRevoked(c), live);
let keyCpu = Number.POSITIVE_INFINITY;
for (let pass = 0; pass < 7; pass++) {
  const cpu = process.cpuUsage();
  for (let i = 0; i < 10_000; i++) await keys.getKey('k1');
  const used = process.cpuUsage(cpu);
  keyCpu = Math.min(keyCpu, (used.user + used.system) / 10_000);
}

console.log(
  `JWKS: ${jwks.length} bytes (one RS256 key); first load ${ms(keysLoad)}; heap ${(keysHeap / 1024).toFixed(0)} KiB`,
);
console.log(`JWKS: getKey per request ${keyCpu.toFixed(2)} µs CPU`);
console.log(
  `revocation feed, ${count} revoked jti: ${mib(revocations.status().bytes)} on the wire; heap held ${mib(feedHeap)} (${(feedHeap / count).toFixed(0)} B per entry)`,
);
console.log(`  first load ${ms(firstLoad)}; loads of a changed document: ${reloads.map(ms).join('; ')}`);
console.log(
  `  isRevoked per request: ${checkFull.toFixed(2)} µs CPU (token not listed), ${checkRevoked.toFixed(2)} µs (listed); empty list ${checkEmpty.toFixed(2)} µs`,
);
keys.stop();
revocations.stop();
empty.stop();
server.close();
