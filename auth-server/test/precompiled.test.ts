import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/storage/sql/database.js';
import { migrateToLatest } from '../src/storage/sql/migrations.js';
import { precompile } from '../src/storage/sql/precompiled.js';
import type { Kysely } from 'kysely';
import type { Tables } from '../src/storage/sql/tables.js';

describe('precompile', () => {
  it('runs one compiled query with new values each time, in a transaction too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-precompiled-'));
    const db = openDatabase({ dialect: 'sqlite', file: join(dir, 'db.sqlite') });
    try {
      await migrateToLatest(db);
      // Named out of parameter order: the names are mapped to positions when compiled.
      const insert = precompile(['scopes', 'at', 'id', 'server'], (kysely: Kysely<Tables>, v) =>
        kysely
          .insertInto('resources')
          .values({ uri: v.id, scopes: v.scopes, server_client_id: v.server, created_at: v.at }),
      );
      const find = precompile(['uri'], (kysely: Kysely<Tables>, v) =>
        kysely.selectFrom('resources').select(['uri', 'scopes']).where('uri', '=', v.uri),
      );
      await insert(db, { id: 'https://one.test', scopes: 'a', at: 1, server: null });
      await db
        .transaction()
        .execute((tx) => insert(tx, { id: 'https://two.test', scopes: 'b c', at: 2, server: null }));
      expect((await find(db, { uri: 'https://two.test' })).rows).toEqual([
        { uri: 'https://two.test', scopes: 'b c' },
      ]);
      expect((await find(db, { uri: 'https://one.test' })).rows).toEqual([
        { uri: 'https://one.test', scopes: 'a' },
      ]);
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses, when first run, a query that leaves a named value out or takes one that is not named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-precompiled-'));
    const db = openDatabase({ dialect: 'sqlite', file: join(dir, 'db.sqlite') });
    try {
      const unused = precompile(['uri', 'scopes'], (kysely: Kysely<Tables>, v) =>
        kysely.selectFrom('resources').selectAll().where('uri', '=', v.uri),
      );
      expect(() => unused(db, { uri: 'x', scopes: 'y' })).toThrow(/exactly once/);
      const literal = precompile(['uri'], (kysely: Kysely<Tables>, v) =>
        kysely.selectFrom('resources').selectAll().where('uri', '=', v.uri).where('scopes', '=', 'a'),
      );
      expect(() => literal(db, { uri: 'x' })).toThrow(/not a named value/);
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
