/**
 * `node bench/dist/resource-server-cost.js [requests] [rounds]`: server CPU per `/api/me` request
 * of the resource server's real app (`createApp`, as main.ts builds it: key provider, revocation
 * feed, metrics, `LOG_LEVEL=warn`), in process, without sockets or the HTTP parser, so the
 * figure is what our code and Express cost and little else. It still moves with the machine's
 * load (CPU time stretches when the cores are contended): compare ratios to bare Express from
 * the same run, or use `--callgrind`.
 *
 * Each request is a real `IncomingMessage`/`ServerResponse` pair on a socket stub that discards
 * what is written; the response's `close` is emitted after `finish`, as Node's server does, so
 * the request log and the latency histogram run. Requests go one at a time. Rounds alternate
 * three variants: a bare Express JSON route (bench/servers/bare-express.ts's), /api/me with one
 * token repeated (a verified-token cache hit) and /api/me with a fresh token every request
 * (tokens signed here, more than the cache admits). Prints the median µs of CPU per request
 * of each. `VARIANTS=fresh,repeated` runs only those (e.g. under `--cpu-prof`).
 *
 * `--callgrind`: instead, each variant runs in a child under `valgrind --tool=callgrind` with
 * instrumentation switched on (`callgrind_control -i on`, then `-d`) only while its `requests` are answered,
 * after three warm-up rounds of as many, and the instructions per request are printed: a count the
 * machine's load does not change, for before/after comparisons. A few minutes per 1,000
 * requests and variant.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID, sign } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
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

const args = process.argv.slice(2).filter((arg) => arg !== '--callgrind');
const requests = Number(args[0] ?? 20_000);
const rounds = Number(args[1] ?? 5);
const callgrind = process.argv.includes('--callgrind');
/** Warm-up rounds before the one counted under callgrind. */
const gatedRounds = 3;

/** Runs one variant in a child under callgrind, counting only while its measured requests run. */
async function instructionsPerRequest(variant: string): Promise<number> {
  const out = `/tmp/resource-server-cost.${process.pid}.${variant}.callgrind`;
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${out}`,
      process.execPath,
      // No concurrent compiler or GC threads: the same work every run, so the counts repeat.
      '--single-threaded',
      process.argv[1] as string,
      String(requests),
      String(gatedRounds),
    ],
    {
      env: { ...process.env, VARIANTS: variant, GATED: '1', TOKENS_FILE: tokensFile },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  for await (const line of createInterface({ input: child.stdout })) {
    if (line !== 'measure' && line !== 'done') continue;
    // On at the start of the measured requests; at their end, a dump of what was counted since.
    // callgrind_control exits 0 whether or not the command got through: retry until it says OK.
    const command = line === 'measure' ? ['-i', 'on', String(child.pid)] : ['-d', String(child.pid)];
    for (let attempt = 0; attempt < 5; attempt++) {
      const said = execFileSync('callgrind_control', command, { encoding: 'utf8' });
      if (said.includes('OK')) break;
    }
    child.stdin.write('\n');
  }
  const totals = /^(?:totals|summary): (\d+)/m.exec(readFileSync(`${out}.1`, 'utf8'));
  rmSync(out, { force: true });
  rmSync(`${out}.1`, { force: true });
  if (totals?.[1] === undefined) throw new Error(`no callgrind totals for ${variant}`);
  return Number(totals[1]) / requests;
}
const gated = process.env.GATED === '1';
const stdinLines = gated ? createInterface({ input: process.stdin })[Symbol.asyncIterator]() : undefined;
/** Under --callgrind (in the child): tells the parent where we are and waits until it has switched counting. */
async function gate(line: 'measure' | 'done'): Promise<void> {
  if (stdinLines === undefined) return;
  process.stdout.write(`${line}\n`);
  await stdinLines.next();
}
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
// Under --callgrind the children take the tokens from a file (signing under valgrind is slow):
// as many as the fresh variant sends, so none is sent twice.
const tokensFile = `/tmp/resource-server-cost.${process.pid}.tokens.json`;
if (callgrind) {
  writeFileSync(tokensFile, JSON.stringify(mintTokens((gatedRounds + 1) * requests + 1)));
  for (const variant of process.env.VARIANTS?.split(',') ?? ['bare', 'repeated', 'fresh']) {
    console.log(
      `${variant.padEnd(9)} ${(await instructionsPerRequest(variant)).toFixed(0)} instructions per request`,
    );
  }
  rmSync(tokensFile, { force: true });
  process.exit(0);
}
// More distinct tokens than the cache's doorkeeper admits between clearings (4,096 sightings).
const { jwk, tokens: pool } =
  process.env.TOKENS_FILE === undefined
    ? mintTokens(6000)
    : (JSON.parse(readFileSync(process.env.TOKENS_FILE, 'utf8')) as { jwk: object; tokens: string[] });
const keys = createJwksKeyProvider({
  jwksUri: `${issuer}/.well-known/jwks.json`,
  logger,
  fetch: () =>
    Promise.resolve(Response.json({ keys: [jwk] }, { headers: { 'cache-control': 'max-age=3600' } })),
});
const revocations = createRevocationFeed({
  uri: `${issuer}/oauth/revocations`,
  logger,
  // Polled once: a round under callgrind can outlast the default bound (60 s) of an unrefreshed list.
  refreshSeconds: 3600,
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
    const counted = round === rounds;
    if (counted) await gate('measure');
    const before = process.cpuUsage();
    for (let i = 0; i < requests; i++) {
      const status = await run();
      if (status !== 200) throw new Error(`${name}: HTTP ${status}`);
    }
    const used = process.cpuUsage(before);
    if (counted) await gate('done');
    if (round === 0) continue;
    results.set(name, [...(results.get(name) ?? []), (used.user + used.system) / requests]);
  }
}
if (gated) process.exit(0);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
for (const [name, cpu] of results) {
  console.log(
    `${name.padEnd(9)} ${median(cpu).toFixed(1).padStart(6)} µs CPU per request (${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)})`,
  );
}
keys.stop();
revocations.stop();
