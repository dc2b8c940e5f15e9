import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import { AppError } from '@tessera/shared';
import pg from 'pg';
import type { Tables } from './tables.js';

/** Where the database is: a SQLite file or a PostgreSQL connection string (`DATABASE_URL`). */
export type DatabaseLocation =
  { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; connectionString: string };

/** PostgreSQL's type id for int8 (bigint). */
const int8Oid = 20;

/** Prepared statements kept per SQLite connection: every query shape the server runs, with room to spare. */
const maxCachedStatements = 256;

/**
 * Kysely's SQLite driver prepares every statement afresh (about 10 µs each in better-sqlite3).
 * Kysely's SQL for one query shape is always the same text, so statements are kept by their SQL
 * and reused. Safe because the driver runs one statement at a time on its one connection (a
 * mutex; a stream holds the connection to its end). Bounded: past the limit the oldest goes.
 */
function withStatementCache(database: Database.Database): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        if (statements.size >= maxCachedStatements) {
          const oldest = statements.keys().next();
          if (oldest.done !== true) statements.delete(oldest.value);
        }
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

/**
 * Opens the database: the only place that touches a driver. SQLite gets WAL (synchronous=NORMAL) and a busy
 * timeout so the CLI and the server can share the file; PostgreSQL's int8 comes back as
 * a number (our timestamps are milliseconds, well inside 2^53).
 */
export function openDatabase(
  location: DatabaseLocation,
  onIdleClientError: (error: Error) => void = () => undefined,
): Kysely<Tables> {
  if (location.dialect === 'sqlite') {
    mkdirSync(dirname(location.file), { recursive: true });
    const database = new Database(location.file);
    database.pragma('journal_mode = WAL');
    // better-sqlite3 runs on the event loop: with the default synchronous=FULL every commit waits
    // for an fsync (2-10 ms here), so a flood of failed logins (one throttle write each) would
    // stall every request. NORMAL is the documented pairing for WAL: still safe from corruption;
    // only the last commits may be lost on power failure.
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 5000');
    database.pragma('foreign_keys = ON');
    return new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  }
  const pool = new pg.Pool({
    connectionString: location.connectionString,
    max: 10,
    // Fail fast while the database is down (requests get 503) instead of queueing forever.
    connectionTimeoutMillis: 3000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === int8Oid
          ? Number
          : (pg.types.getTypeParser(oid, format) as (
              value: string,
            ) => unknown)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection dropped by the server emits 'error' on the pool; unhandled it would
  // crash the process. The pool replaces it on the next query.
  pool.on('error', onIdleClientError);
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
}

/** Driver errors that mean "the database cannot be reached right now", not "this request is wrong". */
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'SQLITE_BUSY',
]);

/**
 * Maps an unreachable or shutting-down database to 503 temporarily_unavailable (RFC 6749
 * §5.2's code for an overloaded or down server) with Retry-After; anything else is left alone.
 */
export function toDatabaseUnavailable(error: unknown): AppError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : '';
  const unavailable =
    (typeof code === 'string' &&
      (unavailableCodes.has(code) || code.startsWith('08') || code.startsWith('57P'))) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
      message,
    ) ||
    // The store closed while shutting down (Kysely, on either database).
    message === 'driver has already been destroyed';
  return unavailable
    ? new AppError('temporarily_unavailable', 'the database is unavailable; retry shortly', {
        cause: error,
        headers: { 'Retry-After': '5' },
      })
    : undefined;
}
