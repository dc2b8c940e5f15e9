import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { DatabaseLocation } from '../../config.js';
import type { Tables } from './tables.js';

/** PostgreSQL's type id for int8 (bigint). */
const int8Oid = 20;

/**
 * Opens the database: the only place that touches a driver. SQLite gets WAL (synchronous=NORMAL) and a busy
 * timeout so the CLI and the server can share the file; PostgreSQL's int8 comes back as
 * a number (our timestamps are milliseconds, well inside 2^53).
 */
export function openDatabase(location: DatabaseLocation): Kysely<Tables> {
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
    return new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
  }
  const pool = new pg.Pool({
    connectionString: location.connectionString,
    max: 10,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === int8Oid
          ? Number
          : (pg.types.getTypeParser(oid, format) as (
              value: string,
            ) => unknown)) as typeof pg.types.getTypeParser,
    },
  });
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
}
