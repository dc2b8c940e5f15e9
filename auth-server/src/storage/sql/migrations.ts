import { Migrator, sql, type Kysely, type Migration } from 'kysely';

/**
 * Schema migrations, in order. Portable DDL only (text ids, bigint epoch-ms, integer
 * booleans) so SQLite and PostgreSQL run the same statements.
 */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('clients')
        .addColumn('client_id', 'text', (c) => c.primaryKey())
        .addColumn('secret_digest', 'text')
        .addColumn('is_public', 'integer', (c) => c.notNull())
        .addColumn('grants', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('private_key_encrypted', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('activated_at', 'bigint')
        .addColumn('retired_at', 'bigint')
        .execute();
      // At most one signing key: two replicas bootstrapping at once cannot both win.
      await db.schema
        .createIndex('signing_keys_one_active')
        .on('signing_keys')
        .column('state')
        .unique()
        .where(sql.ref('state'), '=', 'active')
        .execute();
    },
  },
  // Failed-login counts per username (issue #6). In the database, not in process memory, so
  // every replica and the admin CLI (`users unlock`) see the same state. Keyed by a digest of
  // the username: unknown usernames are counted like known ones, with bounded row size.
  '0004_login_throttle': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('login_throttle')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('last_failure_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('login_throttle_last_failure_at')
        .on('login_throttle')
        .column('last_failure_at')
        .execute();
    },
  },
};

/** Brings the schema up to date. Kysely's migrator holds a lock, so replicas starting together do not race. */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<void> {
  const migrator = new Migrator({
    db: db as Kysely<unknown>,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw new Error('database migration failed', { cause: error });
}
