import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { waitFor } from '../processes.js';
import { startSystem, type System } from './system.js';

/**
 * Availability under a password-grant flood (RFC 9700 §2.4, RFC 6749 §4.3.2): Argon2 runs on
 * libuv's pool, never on the event loop, and password checks in flight are bounded
 * (PASSWORD_HASH_CONCURRENCY + PASSWORD_HASH_QUEUE), so the excess gets a quick 503 and
 * /healthz stays fast. The flood runs in its own process; this one probes.
 */
const floodMs = 3000;
const connections = 12;
/**
 * The target: /healthz p99 under 50 ms during the flood. The machine running the tests is
 * shared (2 cores; other suites and benchmarks), so what /healthz already costs there without
 * the flood (idle p99, measured first) is allowed on top.
 */
const p99LimitMs = 50;

let system: System;

beforeAll(async () => {
  system = await startSystem({
    authEnv: {
      PASSWORD_HASH_CONCURRENCY: '1',
      PASSWORD_HASH_QUEUE: '8',
      RATE_LIMIT_IP: '1000000/1m',
      RATE_LIMIT_CLIENT: '1000000/1m',
      LOGIN_LOCK_THRESHOLD: '1000',
    },
    resource: false,
  });
}, 60_000);
afterAll(() => system?.stop());

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Infinity;
};

/** Runs an ES module script in its own process (argv after the script) and parses its JSON output. */
function runScript<T>(script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script, ...args], (error, stdout) =>
      error === null
        ? resolve(JSON.parse(stdout) as T)
        : reject(new Error('script failed', { cause: error })),
    );
  });
}

/** GETs /healthz back to back until `done()` (enough samples that p99 is not just the worst one); returns the latencies. */
async function probe(done: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  while (!done()) {
    const started = performance.now();
    await (await fetch(`${system.auth.url}/healthz`)).arrayBuffer();
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/** Whether the auth server has answered a password request 503: the bound on checks in flight is full. */
async function boundIsFull(): Promise<boolean> {
  const metrics = await (await fetch(`${system.auth.metricsUrl}/metrics`)).text();
  return /^tessera_token_errors_total\{[^}]*error="temporarily_unavailable"[^}]*\} [1-9]/m.test(metrics);
}

/** `connections` loops of wrong-password requests for `floodMs`, in a child process; resolves to status counts. */
const flood = () =>
  runScript<Record<string, number>>(
    `const [url, auth, connections, ms] = process.argv.slice(1);
    const counts = {};
    const until = Date.now() + Number(ms);
    await Promise.all(Array.from({ length: Number(connections) }, async (_, i) => {
      while (Date.now() < until) {
        const res = await fetch(url, { method: 'POST', headers: { authorization: auth,
          'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=password&username=user' + (i % 4) + '&password=guess' });
        await res.arrayBuffer();
        counts[res.status] = (counts[res.status] ?? 0) + 1;
      }
    }));
    process.stdout.write(JSON.stringify(counts));`,
    [
      `${system.auth.url}/oauth/token`,
      `Basic ${Buffer.from(`web:${system.clientSecret}`).toString('base64')}`,
      String(connections),
      String(floodMs),
    ],
  );

describe('RFC 9700 §2.4 — a password-grant flood does not starve the service', () => {
  test(`/healthz p99 stays under ${p99LimitMs} ms (+ the machine's idle p99) while ${connections} connections flood the password grant; the excess gets 503`, async () => {
    // The machine is shared: what /healthz costs here without the flood is the reference.
    const idleUntil = performance.now() + 1000;
    const idle = await probe(() => performance.now() >= idleUntil);
    let flooded = false;
    const flooding = flood().finally(() => (flooded = true));
    // Measure once the flood has filled the bound, until it ends (and never stop the server under it).
    const during = await waitFor(boundIsFull, {
      timeout: floodMs,
      interval: 20,
      what: 'the flood to fill the bound',
    })
      .then(() => probe(() => flooded))
      .finally(() => flooding);
    const statuses = await flooding;

    const [idleP99, p50, p99] = [percentile(idle, 99), percentile(during, 50), percentile(during, 99)];
    process.stdout.write(
      `password flood: ${JSON.stringify(statuses)}; /healthz idle p99 ${idleP99.toFixed(1)} ms; during: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${during.length} probes)\n`,
    );
    expect(Object.keys(statuses).sort()).toEqual(['400', '503']);
    expect(during.length).toBeGreaterThan(20);
    // The figure in the message: `npm run test:timing` prints it with each attempt.
    if (p99 >= p99LimitMs + idleP99)
      throw new Error(`/healthz p99 ${p99.toFixed(1)} ms ≥ ${p99LimitMs} + ${idleP99.toFixed(1)} ms`);
  }, 30_000);
});
