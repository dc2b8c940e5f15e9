/**
 * `node --expose-gc bench/dist/token-cache-memory.js [count]`: the verified-token cache's heap at
 * `count` (default 100,000) distinct live tokens.
 *
 * Every token is a real RS256 access token shaped as the auth server issues them (RFC 9068
 * header and claims, password-grant shape with `sid`), verified by the strategy's own verifier;
 * each is read out of a fresh `Authorization` header string by `readBearerToken`, as a request
 * would, and remembered until the cache holds it (its second sighting, or a third when the
 * doorkeeper's bits were cleared between the two), with
 * `maxEntries` set to hold them all. Reports the heap after a full GC, before and after, and
 * what the same tokens' keys and principals cost on their own.
 */
import { randomUUID, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Request } from 'express';
import {
  createAccessTokenVerifier,
  createJwksKeyProvider,
  createLogger,
  createVerifiedTokenCache,
  readBearerToken,
  newKeyPairSync,
} from '@tessera/shared';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const count = Number(process.argv[2] ?? 100_000);
const issuer = 'http://127.0.0.1:4000';
const audience = 'http://127.0.0.1:4001';
const kid = 'ZGVtby1rZXktdGh1bWJwcmludC1mb3ItdGhlLWJlbmNoLXJ1bg';

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

const { privateKey, publicKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
const keys = createJwksKeyProvider({
  jwksUri: `${issuer}/.well-known/jwks.json`,
  logger: createLogger({ name: 'bench', level: 'warn' }),
  fetch: () =>
    Promise.resolve(Response.json({ keys: [jwk] }, { headers: { 'cache-control': 'max-age=3600' } })),
});
await keys.start();
const verify = createAccessTokenVerifier({ keys, issuer, audience });

const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid })).toString('base64url');
function signOne(): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    client_id: 'web-app',
    scope: 'openid notes:read notes:write',
    sid: randomUUID(),
    iss: issuer,
    sub: randomUUID(),
    aud: audience,
    iat,
    exp: iat + 3600,
    jti: randomUUID(),
  };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return new Promise((resolve, reject) =>
    sign('sha256', Buffer.from(input), privateKey, (error, signature) => {
      if (error !== null) reject(error);
      else resolve(`${input}.${signature.toString('base64url')}`);
    }),
  );
}

const started = performance.now();
const tokens: string[] = [];
while (tokens.length < count) {
  const batch = Math.min(64, count - tokens.length);
  tokens.push(...(await Promise.all(Array.from({ length: batch }, signOne))));
}
console.log(
  `signed ${count} tokens (${tokens[0]?.length} characters each) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

/** The token as a request hands it over: a match inside a fresh, flat `Authorization` header string. */
function presented(token: string): string {
  const authorization = Buffer.from(`Bearer ${token}`, 'latin1').toString('latin1');
  const result = readBearerToken({
    headers: { authorization },
    query: {},
    body: undefined,
  } as unknown as Request);
  if (result.kind !== 'token') throw new Error('bearer token not read');
  return result.token;
}

async function principal(token: string): Promise<Express.User> {
  const user = await verify(token);
  if (user instanceof Error) throw user;
  return user;
}

/** Heap held by what `build` returns, after GC. */
async function heldBy(build: () => unknown): Promise<{ bytes: number; value: unknown }> {
  const before = heapUsed();
  const value = await build();
  const after = heapUsed();
  return { bytes: after - before, value };
}

const keysAlone = await heldBy(() => tokens.map(presented));
const usersAlone = await heldBy(async () => {
  const users: Express.User[] = [];
  for (const token of tokens) users.push(await principal(token));
  return users;
});
keysAlone.value = usersAlone.value = undefined;

const cache = createVerifiedTokenCache({ keys, maxEntries: count });
const filled = await heldBy(async () => {
  for (const raw of tokens) {
    const token = presented(raw);
    const user = await principal(token);
    // Admitted on its second sighting; a third when the doorkeeper was cleared in between.
    for (let i = 0; i < 3 && (await cache.lookup(token)) === undefined; i++)
      await cache.remember(token, user);
  }
  return undefined;
});
const headers = tokens.map(presented);
let hits = 0;
const cpuBefore = process.cpuUsage();
for (const token of headers) if ((await cache.lookup(token)) !== undefined) hits++;
const cpu = process.cpuUsage(cpuBefore);
if (cache.size !== count || hits !== count)
  throw new Error(`cache holds ${cache.size}, ${hits} hits of ${count}`);

console.log(
  `the keys alone (token strings as read from the header): ${mib(keysAlone.bytes)} MiB, ${Math.round(keysAlone.bytes / count)} B each`,
);
console.log(
  `the principals alone (Express.User from the verifier): ${mib(usersAlone.bytes)} MiB, ${Math.round(usersAlone.bytes / count)} B each`,
);
console.log(
  `verified-token cache, ${count} entries: ${mib(filled.bytes)} MiB, ${Math.round(filled.bytes / count)} B per entry`,
);
console.log(
  `a hit (lookup of a token read from a fresh header), CPU: ${((cpu.user + cpu.system) / count).toFixed(2)} µs`,
);
