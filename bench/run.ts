/**
 * `npm run bench [-- --smoke] [-- --rounds N --seconds S] [-- --store postgres]`: Tessera against the stacks people
 * use today, on loopback, with every ratio taken against baselines measured in the same run.
 *
 * Servers run as their own processes, pinned to one core (the load generator, this process,
 * to the other) when taskset exists. Each round measures every scenario once, and a scenario
 * with a target (or a floor) has its baseline measured again right before it, so the two are never minutes
 * apart; a measurement's CPU figure is the server process's own CPU time (/proc/<pid>/stat,
 * every thread) during it.
 *
 * `--cpu-prof <dir>`: every server runs with `--cpu-prof` and writes a V8 CPU profile,
 * <dir>/<server>.cpuprofile, when the run stops it (those that handle SIGTERM: Tessera's); the
 * requests each server answered are logged at the end, for `bench/dist/cpu-profile-summary.js`.
 *
 * `--store postgres` adds the token endpoint on PostgreSQL with Redis-backed rate limits, side by
 * side with SQLite in the same rounds: BENCH_DATABASE_URL names a PostgreSQL server (the bench
 * creates a database of its own there and drops it at the end), BENCH_REDIS_URL a Redis.
 *
 * Writes bench/results/<timestamp>.{md,json} (smoke: bench/results/smoke-<timestamp>.*) and
 * exits non-zero if any scenario had failed requests or did not start.
 */
import { cpus, loadavg } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measure, type LoadRequest, type Sample } from './lib/load.js';
import { createBenchDatabase } from './lib/postgres.js';
import {
  peakRssMiB,
  placeProcesses,
  root,
  runScript,
  startServer,
  type ServerProcess,
} from './lib/processes.js';
import { judgeTargets, toMarkdown, type BenchReport, type ScenarioResult } from './lib/report.js';
import { median, spread } from './lib/stats.js';

interface Settings {
  smoke: boolean;
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  tokenPool: number;
  logLevel: string;
  rawMs: number;
  only: string | undefined;
  /** `--cpu-prof <dir>`: the servers write V8 CPU profiles there when they stop. */
  cpuProfileDir: string | undefined;
  /** PostgreSQL + Redis for the token endpoint's second store, when `--store postgres`. */
  postgres: { databaseUrl: string; redisUrl: string } | undefined;
}

function readSettings(argv: readonly string[]): Settings {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    return index === -1 ? undefined : argv[index + 1];
  };
  const smoke = argv.includes('--smoke');
  const number = (name: string, fallback: number) => {
    const text = value(name);
    const parsed = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number`);
    return parsed;
  };
  return {
    smoke,
    rounds: number('rounds', smoke ? 1 : 5),
    seconds: number('seconds', smoke ? 0.2 : 3),
    warmupSeconds: smoke ? 0.1 : 1.5,
    connections: number('connections', 10),
    // The fresh-token pool must exceed the verifier's token cache, or "fresh" would be cache hits.
    tokenPool: number('token-pool', smoke ? 100 : 6000),
    logLevel: value('log-level') ?? 'warn',
    rawMs: smoke ? 50 : 1000,
    only: value('only'),
    cpuProfileDir: value('cpu-prof'),
    postgres: readPostgres(value('store')),
  };
}

function readPostgres(store: string | undefined): Settings['postgres'] {
  if (store === undefined || store === 'sqlite') return undefined;
  if (store !== 'postgres') throw new Error(`--store must be sqlite or postgres, got "${store}"`);
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  const redisUrl = process.env.BENCH_REDIS_URL;
  if (databaseUrl === undefined || redisUrl === undefined) {
    throw new Error(
      '--store postgres needs BENCH_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) and BENCH_REDIS_URL (e.g. redis://127.0.0.1:6379)',
    );
  }
  return { databaseUrl, redisUrl };
}

const issuer = 'http://localhost:4000';
/** The resource the bench's resource servers are (registered by setUpStore). */
const audience = 'http://localhost:4001';
const clientId = 'bench';
const password = 'correct horse battery staple';

type RawOp = 'sign' | 'verify' | 'argon2';

interface Scenario {
  id: string;
  title: string;
  group: 'limit' | 'baseline' | 'tessera' | 'peer';
  raw?: RawOp;
  server?: string;
  request?: LoadRequest;
  connections?: number;
  probe?: { path: string; ratePerSecond: number };
  /** Paired with `baseline`, measured again right before it every round; judged on `minimumRatio` when given. */
  target?: { baseline: string; minimumRatio?: number; probeP99BelowMs?: number };
  versus?: string;
  skipped?: string;
  /** The Basic credentials that seed a rotating scenario's refresh chains (default: the SQLite store's). */
  credentials?: string;
}

/** One authenticated HTTP call to the issuing auth server. */
async function post(url: string, basic: string, body: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Mints `count` access tokens through the token endpoint, `parallel` at a time. */
async function mintTokens(tokenUrl: string, basic: string, count: number, parallel = 16): Promise<string[]> {
  const tokens: string[] = [];
  const worker = async () => {
    while (tokens.length < count) {
      tokens.push('pending');
      const body = await post(tokenUrl, basic, 'grant_type=client_credentials&scope=notes%3Aread');
      tokens[tokens.indexOf('pending')] = String(body.access_token);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return tokens;
}

async function main(): Promise<void> {
  const settings = readSettings(process.argv.slice(2));
  const cpuCount = cpus().length;
  const placement = placeProcesses(cpuCount);
  const serverCpu = placement.serverCpu;
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  const t0 = Date.now();
  const log = (message: string) =>
    process.stderr.write(`bench [${((Date.now() - t0) / 1000).toFixed(1)} s]: ${message}\n`);
  const notes: string[] = [];

  // --- Tessera's store: one client and one user, made with the admin CLI as an operator would.
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  // The rate limiters still run on every request, with budgets a load test cannot exhaust
  // (the defaults, 120/1m per IP, would answer the token pool and every round with 429).
  const authEnv = {
    DATA_DIR: dataDir,
    LOG_LEVEL: settings.logLevel,
    ISSUER: issuer,
    AUDIENCE: audience,
    RATE_LIMIT_IP: '1000000000/1s',
    RATE_LIMIT_CLIENT: '1000000000/1s',
  };
  const servers: ServerProcess[] = [];
  let exitCode = 0;
  let dropDatabase: (() => Promise<void>) | undefined;
  /** One client and one user in the store `env` points at, made with the admin CLI; returns the client's Basic credentials. */
  const setUpStore = async (env: Record<string, string>): Promise<string> => {
    await runScript({
      script: 'auth-server/dist/src/cli/main.js',
      args: ['resources', 'create', '--uri', audience, '--scopes', 'notes:read notes:write'],
      env,
      cpu: placement.loadCpu,
    });
    const created = JSON.parse(
      await runScript({
        script: 'auth-server/dist/src/cli/main.js',
        args: [
          'clients',
          'create',
          '--client-id',
          clientId,
          '--grants',
          'password,client_credentials,refresh_token',
          '--scopes',
          'notes:read notes:write',
          '--resources',
          audience,
          '--json',
        ],
        env,
        cpu: placement.loadCpu,
      }),
    ) as { client_secret: string };
    await runScript({
      script: 'auth-server/dist/src/cli/main.js',
      args: [
        'users',
        'create',
        '--username',
        'alice',
        '--password-stdin',
        '--scopes',
        'notes:read notes:write',
      ],
      env,
      cpu: placement.loadCpu,
      input: `${password}\n`,
    });
    return Buffer.from(`${clientId}:${created.client_secret}`).toString('base64');
  };
  try {
    const basic = await setUpStore(authEnv);
    let pgEnv: Record<string, string> | undefined;
    let pgBasic = '';
    if (settings.postgres !== undefined) {
      const database = await createBenchDatabase(settings.postgres.databaseUrl);
      dropDatabase = database.drop;
      pgEnv = { ...authEnv, DATABASE_URL: database.url, REDIS_URL: settings.postgres.redisUrl };
      pgBasic = await setUpStore(pgEnv);
      log('PostgreSQL + Redis store set up');
    }

    // --- The issuer the setup and the resource servers talk to: unpinned (both cores mint the token
    // pool faster), idle while anything is measured.
    const issuing = await startServer({
      name: 'issuer',
      script: 'auth-server/dist/src/main.js',
      env: authEnv,
      cpu: undefined,
    });
    servers.push(issuing);
    const metadata = (await (
      await fetch(`${issuing.url}/.well-known/oauth-authorization-server`)
    ).json()) as { grant_types_supported?: string[] };
    const refreshSupported = metadata.grant_types_supported?.includes('refresh_token') === true;
    const jwksUri = `${issuing.url}/.well-known/jwks.json`;
    const jwksEtag = (await fetch(jwksUri)).headers.get('etag') ?? '';

    log(`minting ${settings.tokenPool} access tokens`);
    const pool = await mintTokens(`${issuing.url}/oauth/token`, basic, settings.tokenPool);
    const repeated = pool[0] as string;
    let next = 0;
    const freshToken = () => ({ authorization: `Bearer ${pool[next++ % pool.length]}` });
    const bearer = { authorization: `Bearer ${repeated}` };
    const form = { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' };

    // Refresh chains: every answer carries the next refresh token (rotation), fed to the next request.
    const refreshQueue: string[] = [];
    const seedRefreshChains = async (count: number, url: string, credentials: string) => {
      refreshQueue.length = 0;
      for (let i = 0; i < count; i++) {
        const body = await post(
          `${url}/oauth/token`,
          credentials,
          `grant_type=password&username=alice&password=${encodeURIComponent(password)}&scope=notes%3Aread`,
        );
        if (typeof body.refresh_token === 'string') refreshQueue.push(body.refresh_token);
      }
    };

    // The resource server fails closed without its revocation feed: point it at the issuing server.
    const peerEnv = {
      JWKS_URI: jwksUri,
      REVOCATION_FEED_URI: `${issuing.url}/oauth/revocations`,
      ISSUER: issuer,
      AUDIENCE: audience,
    };
    const serverDefinitions: Record<string, Parameters<typeof startServer>[0]> = {
      bare: { name: 'bare-express', script: 'bench/dist/servers/bare-express.js', env: {}, cpu: serverCpu },
      'tessera-cc': {
        name: 'tessera auth (cc)',
        script: 'auth-server/dist/src/main.js',
        env: authEnv,
        cpu: serverCpu,
      },
      'tessera-password': {
        name: 'tessera auth (password)',
        script: 'auth-server/dist/src/main.js',
        env: authEnv,
        cpu: serverCpu,
      },
      'tessera-refresh': {
        name: 'tessera auth (refresh)',
        script: 'auth-server/dist/src/main.js',
        env: authEnv,
        cpu: serverCpu,
      },
      ...(pgEnv === undefined
        ? {}
        : Object.fromEntries(
            ['cc', 'password', 'refresh'].map((grant) => [
              `tessera-pg-${grant}`,
              {
                name: `tessera auth on PostgreSQL + Redis (${grant})`,
                script: 'auth-server/dist/src/main.js',
                env: pgEnv,
                cpu: serverCpu,
              },
            ]),
          )),
      'tessera-jwks': {
        name: 'tessera auth (jwks)',
        script: 'auth-server/dist/src/main.js',
        env: authEnv,
        cpu: serverCpu,
      },
      'tessera-rs-repeated': {
        name: 'tessera resource (repeated)',
        script: 'resource-server/dist/src/main.js',
        env: { ...peerEnv, LOG_LEVEL: settings.logLevel },
        cpu: serverCpu,
      },
      'tessera-rs-fresh': {
        name: 'tessera resource (fresh)',
        script: 'resource-server/dist/src/main.js',
        env: { ...peerEnv, LOG_LEVEL: settings.logLevel },
        cpu: serverCpu,
      },
      'passport-repeated': {
        name: 'passport-jwt + jwks-rsa',
        script: 'bench/dist/servers/passport-jwks-rsa.js',
        env: peerEnv,
        cpu: serverCpu,
      },
      floor: {
        name: 'Express + raw crypto',
        script: 'bench/dist/servers/express-raw-crypto.js',
        env: peerEnv,
        cpu: serverCpu,
      },
      'passport-fresh': {
        name: 'passport-jwt + jwks-rsa (fresh)',
        script: 'bench/dist/servers/passport-jwks-rsa.js',
        env: peerEnv,
        cpu: serverCpu,
      },
      'express-jwt-repeated': {
        name: 'express-jwt',
        script: 'bench/dist/servers/express-jwt.js',
        env: peerEnv,
        cpu: serverCpu,
      },
      'express-jwt-fresh': {
        name: 'express-jwt (fresh)',
        script: 'bench/dist/servers/express-jwt.js',
        env: peerEnv,
        cpu: serverCpu,
      },
      oidc: {
        name: 'oidc-provider',
        script: 'bench/dist/servers/oidc-provider.js',
        env: {
          ISSUER: 'http://localhost:4100',
          AUDIENCE: audience,
          CLIENT_ID: 'bench',
          CLIENT_SECRET: 'bench-secret-'.padEnd(43, 'x'),
        },
        cpu: serverCpu,
      },
    };
    const oidcBasic = Buffer.from(`bench:${'bench-secret-'.padEnd(43, 'x')}`).toString('base64');

    /** The rotating refresh_token scenario on one server: every answer's refresh token feeds a later request. */
    const refreshScenario = (
      id: string,
      title: string,
      server: string,
      credentials: string,
      judged: Pick<Scenario, 'target' | 'versus'>,
    ): Scenario => ({
      id,
      title,
      group: 'tessera',
      server,
      credentials,
      request: {
        method: 'POST',
        path: '/oauth/token',
        headers: { ...form, authorization: `Basic ${credentials}` },
        body: '',
        rotating: {
          take: () => refreshQueue.shift(),
          toBody: (token) => `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`,
          onBody: (body) => {
            const parsed = JSON.parse(body) as { refresh_token?: unknown };
            if (typeof parsed.refresh_token === 'string') refreshQueue.push(parsed.refresh_token);
          },
        },
      },
      ...judged,
    });
    const pgForm = { ...form, authorization: `Basic ${pgBasic}` };
    /** The token endpoint on PostgreSQL + Redis, each against its SQLite figure in the same round. */
    const postgresScenarios: Scenario[] =
      pgEnv === undefined
        ? []
        : [
            {
              id: 'tessera-pg-token-cc',
              title: 'Tessera token endpoint, client_credentials, PostgreSQL + Redis',
              group: 'tessera',
              server: 'tessera-pg-cc',
              request: {
                method: 'POST',
                path: '/oauth/token',
                headers: pgForm,
                body: 'grant_type=client_credentials&scope=notes%3Aread',
              },
              target: { baseline: 'tessera-token-cc', minimumRatio: 0.85 },
            },
            {
              id: 'tessera-pg-token-password',
              title: 'Tessera token endpoint, password, PostgreSQL + Redis',
              group: 'tessera',
              server: 'tessera-pg-password',
              connections: 4,
              request: {
                method: 'POST',
                path: '/oauth/token',
                headers: pgForm,
                body: `grant_type=password&username=alice&password=${encodeURIComponent(password)}&scope=notes%3Aread`,
              },
              versus: 'tessera-token-password',
            },
            refreshScenario(
              'tessera-pg-token-refresh',
              'Tessera token endpoint, refresh_token (rotating), PostgreSQL + Redis',
              'tessera-pg-refresh',
              pgBasic,
              { versus: 'tessera-token-refresh' },
            ),
          ];
    const scenarios: Scenario[] = [
      { id: 'raw-sign', title: 'raw `crypto.sign` RS256-2048', group: 'limit', raw: 'sign' },
      { id: 'raw-verify', title: 'raw `crypto.verify` RS256-2048', group: 'limit', raw: 'verify' },
      { id: 'raw-argon2', title: 'raw Argon2id verify (m=19456, t=2, p=1)', group: 'limit', raw: 'argon2' },
      {
        id: 'bare',
        title: 'bare Express 5 JSON route',
        group: 'baseline',
        server: 'bare',
        request: { method: 'GET', path: '/json' },
      },
      {
        id: 'tessera-token-cc',
        title: 'Tessera token endpoint, client_credentials',
        group: 'tessera',
        server: 'tessera-cc',
        request: {
          method: 'POST',
          path: '/oauth/token',
          headers: form,
          body: 'grant_type=client_credentials&scope=notes%3Aread',
        },
        target: { baseline: 'raw-sign' }, // judged against its floor and node-oidc-provider (report.ts)
      },
      {
        id: 'floor-sign',
        title: 'Express + form parser + raw `crypto.sign`, nothing else (floor for a token endpoint)',
        group: 'baseline',
        server: 'floor',
        request: {
          method: 'POST',
          path: '/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials&scope=notes%3Aread',
        },
        versus: 'raw-sign',
      },
      {
        id: 'oidc-token-cc',
        title: 'node-oidc-provider token endpoint, client_credentials (JWT, RS256)',
        group: 'peer',
        server: 'oidc',
        request: {
          method: 'POST',
          path: '/token',
          headers: {
            authorization: `Basic ${oidcBasic}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials&scope=notes%3Aread',
        },
        versus: 'raw-sign',
      },
      {
        id: 'tessera-token-password',
        title: 'Tessera token endpoint, password',
        group: 'tessera',
        server: 'tessera-password',
        connections: 4,
        request: {
          method: 'POST',
          path: '/oauth/token',
          headers: form,
          body: `grant_type=password&username=alice&password=${encodeURIComponent(password)}&scope=notes%3Aread`,
        },
        probe: { path: '/healthz', ratePerSecond: 20 },
        target: { baseline: 'raw-argon2', probeP99BelowMs: 50 }, // judged against its floor (report.ts)
      },
      {
        id: 'floor-password',
        title: 'Express + form parser + async Argon2id verify, nothing else (floor for the password grant)',
        group: 'baseline',
        server: 'floor',
        connections: 4,
        request: {
          method: 'POST',
          path: '/login',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `password=${encodeURIComponent(password)}`,
        },
        versus: 'raw-argon2',
      },
      refreshSupported
        ? refreshScenario(
            'tessera-token-refresh',
            'Tessera token endpoint, refresh_token (rotating)',
            'tessera-refresh',
            basic,
            { target: { baseline: 'raw-sign', minimumRatio: 0.45 } },
          )
        : {
            id: 'tessera-token-refresh',
            title: 'Tessera token endpoint, refresh_token',
            group: 'tessera',
            skipped: "the auth server's metadata does not list refresh_token in grant_types_supported yet",
          },
      {
        id: 'tessera-jwks',
        title: 'Tessera JWKS endpoint (200, full body)',
        group: 'tessera',
        server: 'tessera-jwks',
        request: { method: 'GET', path: '/.well-known/jwks.json' },
        target: { baseline: 'bare', minimumRatio: 0.9 },
      },
      {
        id: 'tessera-jwks-etag',
        title: 'Tessera JWKS endpoint (If-None-Match → 304)',
        group: 'tessera',
        server: 'tessera-jwks',
        request: { method: 'GET', path: '/.well-known/jwks.json', headers: { 'if-none-match': jwksEtag } },
        target: { baseline: 'bare', minimumRatio: 0.9 },
      },
      {
        id: 'tessera-rs-repeated',
        title: 'Tessera resource server /api/me, one token repeated',
        group: 'tessera',
        server: 'tessera-rs-repeated',
        request: { method: 'GET', path: '/api/me', headers: bearer },
        target: { baseline: 'bare', minimumRatio: 0.85 },
      },
      {
        id: 'tessera-rs-fresh',
        title: 'Tessera resource server /api/me, a fresh token every request',
        group: 'tessera',
        server: 'tessera-rs-fresh',
        request: { method: 'GET', path: '/api/me', perRequestHeaders: freshToken },
        target: { baseline: 'bare' }, // judged against its floor (report.ts)
      },
      {
        id: 'floor-verify-fresh',
        title:
          'Express + raw `crypto.verify`, nothing else, a fresh token every request (floor for a verifier)',
        group: 'baseline',
        server: 'floor',
        request: { method: 'GET', path: '/api/me', perRequestHeaders: freshToken },
        versus: 'bare',
      },
      {
        id: 'passport-repeated',
        title: 'passport-jwt + jwks-rsa, one token repeated',
        group: 'peer',
        server: 'passport-repeated',
        request: { method: 'GET', path: '/api/me', headers: bearer },
        versus: 'bare',
      },
      {
        id: 'passport-fresh',
        title: 'passport-jwt + jwks-rsa, a fresh token every request',
        group: 'peer',
        server: 'passport-fresh',
        request: { method: 'GET', path: '/api/me', perRequestHeaders: freshToken },
        versus: 'bare',
      },
      {
        id: 'express-jwt-repeated',
        title: 'express-jwt + jwks-rsa, one token repeated',
        group: 'peer',
        server: 'express-jwt-repeated',
        request: { method: 'GET', path: '/api/me', headers: bearer },
        versus: 'bare',
      },
      {
        id: 'express-jwt-fresh',
        title: 'express-jwt + jwks-rsa, a fresh token every request',
        group: 'peer',
        server: 'express-jwt-fresh',
        request: { method: 'GET', path: '/api/me', perRequestHeaders: freshToken },
        versus: 'bare',
      },
      ...postgresScenarios,
    ];
    // --only a,b: the scenarios whose id contains any of the words, and their baselines.
    const words = settings.only?.split(',').filter((word) => word !== '');
    const wanted = (s: Scenario) => words === undefined || words.some((word) => s.id.includes(word));
    const selected = scenarios.filter(
      (s) =>
        wanted(s) || scenarios.some((o) => wanted(o) && (o.target?.baseline === s.id || o.versus === s.id)),
    );

    // --- Start every measured server at once; idle ones cost only memory. A full run gives each
    // scenario its own process (so peak RSS is the scenario's); the smoke run shares them to start fast.
    const smokeShared: Record<string, string> = {
      'tessera-password': 'tessera-cc',
      'tessera-refresh': 'tessera-cc',
      'tessera-jwks': 'tessera-cc',
      'tessera-pg-password': 'tessera-pg-cc',
      'tessera-pg-refresh': 'tessera-pg-cc',
      'tessera-rs-fresh': 'tessera-rs-repeated',
      'passport-fresh': 'passport-repeated',
      'express-jwt-fresh': 'express-jwt-repeated',
    };
    if (settings.smoke)
      for (const s of selected) if (s.server !== undefined) s.server = smokeShared[s.server] ?? s.server;
    const needed = [
      ...new Set(selected.flatMap((s) => (s.server === undefined || s.skipped ? [] : [s.server]))),
    ];
    log(`starting ${needed.length} servers${serverCpu === undefined ? '' : ` on cpu ${serverCpu}`}`);
    const running = new Map<string, ServerProcess>();
    await Promise.all(
      needed.map(async (key) => {
        const definition = serverDefinitions[key];
        if (definition === undefined) throw new Error(`no server ${key}`);
        const profileDir = settings.cpuProfileDir;
        const server = await startServer(
          profileDir === undefined
            ? definition
            : {
                ...definition,
                nodeArgs: [
                  '--cpu-prof',
                  '--cpu-prof-dir',
                  profileDir,
                  '--cpu-prof-name',
                  `${key}.cpuprofile`,
                ],
              },
        );
        servers.push(server);
        running.set(key, server);
      }),
    );

    const samples = new Map<string, Sample[]>(selected.map((s) => [s.id, []]));
    /** Per targeted scenario and floor: its baseline, measured again just before it in every round. */
    const pairedBaselines = new Map<string, Sample[]>(selected.map((s) => [s.id, []]));
    /** One child process per round measures every raw limit in turn, on the servers' core. */
    const runRaw = async (ops: readonly RawOp[]): Promise<Map<RawOp, Sample>> => {
      const args = ops.map((op) => `${op}:${op === 'argon2' ? settings.rawMs * 2 : settings.rawMs}`);
      const stdout = await runScript({ script: 'bench/dist/servers/raw-limits.js', args, cpu: serverCpu });
      const samplesByOp = new Map<RawOp, Sample>();
      for (const line of stdout.trim().split('\n')) {
        const result = JSON.parse(line) as {
          op: RawOp;
          ops: number;
          wallSeconds: number;
          cpuSeconds: number;
        };
        samplesByOp.set(result.op, {
          requests: result.ops,
          wallSeconds: result.wallSeconds,
          serverCpuSeconds: result.cpuSeconds,
          p50Ms: Number.NaN,
          p99Ms: Number.NaN,
          failures: 0,
        });
      }
      return samplesByOp;
    };
    /** Requests each server answered (warm-up included), for reading its CPU profile. */
    const served = new Map<string, number>();
    const runHttp = async (scenario: Scenario, seconds: number): Promise<Sample> => {
      const server = running.get(scenario.server ?? '');
      if (server === undefined || scenario.request === undefined)
        throw new Error(`${scenario.id} has no server`);
      const connections = scenario.connections ?? settings.connections;
      if (scenario.request.rotating !== undefined)
        await seedRefreshChains(connections, server.url, scenario.credentials ?? basic);
      const sample = await measure({
        url: server.url,
        request: scenario.request,
        connections,
        seconds,
        // The smoke run only proves each scenario works: a few requests per connection, not a duration.
        ...(settings.smoke ? { amount: connections * 3 } : {}),
        serverPid: server.pid,
        ...(scenario.probe === undefined ? {} : { probe: scenario.probe }),
      });
      const key = scenario.server ?? '';
      served.set(key, (served.get(key) ?? 0) + sample.requests);
      return sample;
    };

    const active = selected.filter((s) => s.skipped === undefined);
    if (!settings.smoke) {
      log('warming up');
      for (const scenario of active) {
        if (scenario.raw === undefined) await runHttp(scenario, settings.warmupSeconds);
      }
    }
    for (let round = 1; round <= settings.rounds; round++) {
      log(`round ${round}/${settings.rounds}`);
      const rawScenarios = active.filter((s) => s.raw !== undefined);
      const raw =
        rawScenarios.length === 0
          ? new Map<RawOp, Sample>()
          : await runRaw(rawScenarios.map((s) => s.raw as RawOp));
      for (const scenario of rawScenarios) {
        const sample = raw.get(scenario.raw as RawOp);
        if (sample === undefined) throw new Error(`the raw-limit run gave no ${scenario.id} figure`);
        samples.get(scenario.id)?.push(sample);
      }
      for (const scenario of active) {
        if (scenario.raw !== undefined) continue;
        // A target is judged against its baseline measured right before it, not minutes earlier
        // in the round: on a shared machine the drift between the two is most of the noise.
        // The floors too: they say how far a target is reachable at all.
        const pairedWith =
          scenario.target?.baseline ?? (scenario.id.startsWith('floor-') ? scenario.versus : undefined);
        const baseline = active.find((b) => b.id === pairedWith);
        if (baseline !== undefined && !settings.smoke) {
          const sample =
            baseline.raw === undefined
              ? await runHttp(baseline, settings.seconds)
              : (await runRaw([baseline.raw])).get(baseline.raw);
          if (sample === undefined) throw new Error(`the raw-limit run gave no ${baseline.id} figure`);
          pairedBaselines.get(scenario.id)?.push(sample);
        }
        const started = Date.now();
        samples.get(scenario.id)?.push(await runHttp(scenario, settings.seconds));
        if (settings.smoke) log(`${scenario.id}: ${Date.now() - started} ms`);
      }
    }

    // --- Figures: rates per round, ratios per round (a targeted scenario against its baseline measured
    // just before it; any other comparison against the baseline's own slot in the same round).
    const cpuRate = (s: Sample) => s.requests / s.serverCpuSeconds;
    /** Round by round: against the paired measurements when there are any, else the baseline's own. */
    const ratios = (id: string, baseline: string) => {
      const mine = samples.get(id) ?? [];
      const paired = pairedBaselines.get(id) ?? [];
      const theirs = paired.length > 0 ? paired : (samples.get(baseline) ?? []);
      if (theirs.length !== mine.length)
        throw new Error(`${id}: ${mine.length} rounds against ${theirs.length} of ${baseline}`);
      return mine.map((s, i) => cpuRate(s) / cpuRate(theirs[i] as Sample));
    };
    const results: ScenarioResult[] = selected.map((scenario) => {
      const base = { id: scenario.id, title: scenario.title, group: scenario.group };
      if (scenario.skipped !== undefined) {
        notes.push(`${scenario.title}: skipped — ${scenario.skipped}.`);
        return { ...base, skipped: scenario.skipped, rounds: 0, failures: 0 };
      }
      const list = samples.get(scenario.id) ?? [];
      const server = scenario.server === undefined ? undefined : running.get(scenario.server);
      const result: ScenarioResult = {
        ...base,
        rounds: list.length,
        wallRate: spread(list.map((s) => s.requests / s.wallSeconds)),
        cpuRate: spread(list.map(cpuRate)),
        failures: list.reduce((sum, s) => sum + s.failures, 0),
      };
      if (scenario.raw === undefined) {
        result.p50Ms = median(list.map((s) => s.p50Ms));
        result.p99Ms = median(list.map((s) => s.p99Ms));
      }
      if (scenario.probe !== undefined)
        result.probeP99Ms = median(list.map((s) => s.probeP99Ms ?? Number.NaN));
      if (server !== undefined) result.peakRssMiB = peakRssMiB(server.pid);
      const target = scenario.target;
      if (target !== undefined && samples.has(target.baseline)) {
        const perRound = ratios(scenario.id, target.baseline);
        const ratio = spread(perRound);
        const probeOk =
          target.probeP99BelowMs === undefined
            ? undefined
            : (result.probeP99Ms ?? Infinity) < target.probeP99BelowMs;
        result.target = {
          baseline: target.baseline,
          ...(target.minimumRatio === undefined ? {} : { minimumRatio: target.minimumRatio }),
          ratio,
          perRound,
          met: ratio.median >= (target.minimumRatio ?? 0) && probeOk !== false,
          ...(probeOk === undefined
            ? {}
            : {
                extra: {
                  label: `/healthz p99 ${result.probeP99Ms?.toFixed(1)} ms (< ${target.probeP99BelowMs} ms ${probeOk ? 'met' : 'not met'})`,
                  met: probeOk,
                },
              }),
        };
      } else if (scenario.versus !== undefined && samples.has(scenario.versus)) {
        const perRound = ratios(scenario.id, scenario.versus);
        result.versus = { baseline: scenario.versus, ratio: spread(perRound), perRound };
      }
      if (result.failures > 0) {
        exitCode = 1;
        const server = scenario.server === undefined ? undefined : running.get(scenario.server);
        log(
          `${scenario.id}: ${result.failures} failed requests; server output:\n${server?.output.slice(-10).join('\n') ?? ''}`,
        );
      }
      return result;
    });

    if (placement.taskset)
      notes.push(
        `Servers and the raw-limit loops pinned to cpu ${serverCpu}, the load generator (autocannon) to cpu ${placement.loadCpu}.`,
      );
    if (settings.postgres !== undefined)
      notes.push(
        'The PostgreSQL + Redis scenarios run the same auth server on a fresh PostgreSQL database with Redis-backed rate limits (both on this machine, unpinned), each against its SQLite figure in the same round.',
      );
    notes.push(
      'Peer stacks run as their READMEs set them up: no helmet, no request log. Tessera runs as shipped (the API header set from helmet, request log with request ids, latency histogram) at the log level shown; the floors run Express and the one crypto operation, nothing else.',
      'The machine is shared with other work: wall rates are noisy, per-CPU-second rates and same-round ratios less so.',
      settings.smoke
        ? 'Smoke run: one round, every ratio against the baseline measured once in it.'
        : 'A target (and a floor) is judged against its baseline measured again right before it in every round.',
    );
    const report: BenchReport = {
      startedAt,
      mode: settings.smoke ? 'smoke' : 'full',
      machine: {
        cpus: cpuCount,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        node: process.versions.node,
        platform: `${process.platform} ${process.arch}`,
        pinned: placement.taskset ? 'servers pinned with taskset' : 'not pinned (no taskset or one core)',
        loadAverage,
      },
      settings: {
        rounds: settings.rounds,
        seconds: settings.seconds,
        connections: settings.connections,
        tokenPool: settings.tokenPool,
        logLevel: settings.logLevel,
      },
      scenarios: results,
      // A smoke run proves the scenarios run; one round of 0.2 s judges nothing.
      ...(settings.smoke ? {} : { verdicts: judgeTargets(results) }),
      notes,
    };
    const outDir = join(root, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    const stamp = startedAt.replace(/[:.]/g, '-');
    const name = settings.smoke ? `smoke-${stamp}` : stamp;
    const markdown = toMarkdown(report);
    writeFileSync(join(outDir, `${name}.md`), markdown);
    writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(markdown);
    log(`wrote bench/results/${name}.md and .json`);
    const profileDir = settings.cpuProfileDir;
    if (profileDir !== undefined)
      for (const [key, requests] of served)
        log(`node bench/dist/cpu-profile-summary.js ${join(profileDir, `${key}.cpuprofile`)} ${requests}`);
  } catch (error) {
    exitCode = 1;
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await dropDatabase?.().catch((error: unknown) =>
      log(`could not drop the bench database: ${String(error)}`),
    );
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

await main();
