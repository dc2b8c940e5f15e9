import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseLocation } from '../src/storage/sql/database.js';
import { openDatabase } from '../src/storage/sql/database.js';
import { migrateToLatest } from '../src/storage/sql/migrations.js';
import { createSqlStorage } from '../src/storage/sql/sql-storage.js';
import type { Storage } from '../src/storage/storage.js';

/** A fresh, migrated database of one dialect; `open()` gives another handle on it (another replica). */
export interface TestDatabase {
  location: DatabaseLocation;
  open(): Promise<Storage>;
  drop(): Promise<void>;
}

export interface TestDialect {
  name: 'sqlite' | 'postgres';
  create(): Promise<TestDatabase>;
}

async function openStorage(location: DatabaseLocation): Promise<Storage> {
  const db = openDatabase(location);
  await migrateToLatest(db);
  return createSqlStorage(db);
}

const sqlite: TestDialect = {
  name: 'sqlite',
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-contract-'));
    const location: DatabaseLocation = { dialect: 'sqlite', file: join(dir, 'tessera.db') };
    return Promise.resolve({
      location,
      open: () => openStorage(location),
      drop: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
    });
  },
};

/** Each PostgreSQL test database is created fresh next to TEST_DATABASE_URL's and dropped after. */
function postgres(baseUrl: string): TestDialect {
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    async create() {
      const name = `tessera_test_${randomBytes(6).toString('hex')}`;
      await admin((client) => client.query(`create database ${name}`));
      const url = new URL(baseUrl);
      url.pathname = `/${name}`;
      const location: DatabaseLocation = { dialect: 'postgres', connectionString: url.toString() };
      return {
        location,
        open: () => openStorage(location),
        drop: () =>
          admin((client) => client.query(`drop database if exists ${name} with (force)`)).then(
            () => undefined,
          ),
      };
    },
  };
}

/**
 * The dialects a storage test runs on: SQLite always, PostgreSQL when TEST_DATABASE_URL is
 * set. Without it the PostgreSQL suites are skipped (CI sets it and fails on any skip).
 */
export function testDialects(): { dialect: TestDialect; enabled: boolean }[] {
  const url = process.env.TEST_DATABASE_URL;
  return [
    { dialect: sqlite, enabled: true },
    { dialect: postgres(url ?? 'postgres://unset'), enabled: url !== undefined },
  ];
}
