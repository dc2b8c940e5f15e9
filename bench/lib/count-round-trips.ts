/**
 * Preloaded into an auth server (`node --import bench/dist/lib/count-round-trips.js`) by
 * `bench/round-trips.ts`: counts every PostgreSQL query (pg's `Client.query`, the one call
 * Kysely's driver and the pool make) and every Redis command (ioredis's `sendCommand`) by its
 * text or name. On SIGUSR2 it writes the tally to `COUNT_ROUND_TRIPS_FILE` and starts again.
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';

const file = process.env.COUNT_ROUND_TRIPS_FILE;
if (file === undefined) throw new Error('COUNT_ROUND_TRIPS_FILE is not set');
let tally: Record<string, number> = {};
const count = (what: string) => {
  tally[what] = (tally[what] ?? 0) + 1;
};

// eslint-disable-next-line @typescript-eslint/unbound-method -- called with its own `this` below
const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0];
  const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
  count(`pg: ${String(text).replace(/\s+/g, ' ').slice(0, 160)}`);
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;

// eslint-disable-next-line @typescript-eslint/unbound-method -- called with its own `this` below
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (this: Redis, command, stream) {
  const { name } = command as { name: string };
  count(`redis: ${name.toUpperCase()}`);
  return sendCommand.call(this, command, stream);
};

process.on('SIGUSR2', () => {
  writeFileSync(file, JSON.stringify(tally));
  tally = {};
});
