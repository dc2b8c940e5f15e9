/**
 * `BENCH_DATABASE_URL=postgres://… BENCH_REDIS_URL=redis://… node bench/dist/round-trips.js [requests]`:
 * every PostgreSQL query and Redis command one token request costs on the production stores.
 *
 * Sets up a scratch database (dropped at the end) with one client made by the admin CLI, starts
 * the auth server on it with Redis-backed rate limits and `bench/dist/lib/count-round-trips.js`
 * preloaded, warms it with one request of each kind, then counts over `requests` (default 100)
 * client_credentials requests, one at a time, and prints the tally per request; then the
 * server's CPU time per request over 3,000 more, 10 in flight (this one depends on the load).
 * `--memory-limits` runs the same without Redis (rate limits in process), `--sqlite` on SQLite.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchDatabase } from './lib/postgres.js';
import { cpuSeconds, root, runScript, startServer } from './lib/processes.js';

const requests = Number(process.argv[2] ?? 100);
/** `--memory-limits`: the same server without REDIS_URL (rate limits in process), to see what Redis costs. */
const withRedis = !process.argv.includes('--memory-limits');
/** `--sqlite`: the default store (SQLite in DATA_DIR) instead of PostgreSQL. */
const withPostgres = !process.argv.includes('--sqlite');
const databaseUrl = process.env.BENCH_DATABASE_URL;
const redisUrl = process.env.BENCH_REDIS_URL;
if (databaseUrl === undefined || redisUrl === undefined) {
  console.error('set BENCH_DATABASE_URL and BENCH_REDIS_URL');
  process.exit(2);
}

const dataDir = mkdtempSync(join(tmpdir(), 'tessera-round-trips-'));
const tallyFile = join(dataDir, 'tally.json');
const database = await createBenchDatabase(databaseUrl);
const env = {
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  ISSUER: 'http://localhost:4000',
  AUDIENCE: 'tessera-api',
  ...(withPostgres ? { DATABASE_URL: database.url } : {}),
  ...(withRedis ? { REDIS_URL: redisUrl } : {}),
  RATE_LIMIT_IP: '1000000000/1s',
  RATE_LIMIT_CLIENT: '1000000000/1s',
};
try {
  const created = JSON.parse(
    await runScript({
      script: 'auth-server/dist/src/cli/main.js',
      args: [
        'clients',
        'create',
        '--client-id',
        'bench',
        '--grants',
        'client_credentials',
        '--scopes',
        'notes:read',
        '--json',
      ],
      env,
      cpu: undefined,
    }),
  ) as { client_secret: string };
  const basic = Buffer.from(`bench:${created.client_secret}`).toString('base64');
  const server = await startServer({
    name: 'auth-server',
    script: 'auth-server/dist/src/main.js',
    env: {
      ...env,
      COUNT_ROUND_TRIPS_FILE: tallyFile,
      NODE_OPTIONS: `--import ${root}bench/dist/lib/count-round-trips.js`,
    },
    cpu: undefined,
  });
  try {
    const token = async () => {
      const response = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=notes%3Aread',
      });
      if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}`);
      await response.arrayBuffer();
    };
    /** The tally since the last one. */
    const tally = async (): Promise<Record<string, number>> => {
      rmSync(tallyFile, { force: true });
      process.kill(server.pid, 'SIGUSR2');
      for (let i = 0; i < 100; i++) {
        try {
          return JSON.parse(readFileSync(tallyFile, 'utf8')) as Record<string, number>;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      throw new Error('no tally from the server');
    };
    await token();
    const warmUp = await tally();
    for (let i = 0; i < requests; i++) await token();
    const counted = await tally();
    console.log(`first request (cold caches): ${JSON.stringify(warmUp, null, 1)}`);
    console.log(`per client_credentials request, over ${requests} one at a time:`);
    let total = 0;
    for (const [what, times] of Object.entries(counted).sort()) {
      total += times;
      console.log(`  ${(times / requests).toFixed(2)}  ${what}`);
    }
    console.log(`  ${(total / requests).toFixed(2)}  in all`);
    // Server CPU per request, 10 in flight, after a warm-up: load-dependent, unlike the counts.
    const burst = async (count: number) => {
      let left = count;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (left-- > 0) await token();
        }),
      );
    };
    await burst(1000);
    const before = cpuSeconds(server.pid);
    await burst(3000);
    const perRequest = ((cpuSeconds(server.pid) - before) / 3000) * 1e6;
    console.log(`server CPU per request (3,000 requests, 10 in flight): ${perRequest.toFixed(0)} µs`);
  } finally {
    await server.stop();
  }
} finally {
  await database.drop();
  rmSync(dataDir, { recursive: true, force: true });
}
