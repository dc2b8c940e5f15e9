import { Migrator, sql, type Kysely, type Migration } from 'kysely';

/** What the migrations need to know about the deployment they upgrade. */
export interface MigrationOptions {
  /**
   * The one audience every token carried before resources were registered (the auth server's
   * `AUDIENCE`): `0009_resources` registers it as a resource that every existing client may ask for.
   */
  legacyAudience?: string;
}

/** The rows `0009_resources` reads and writes, as they are at that point of the history. */
interface ResourceMigrationTables {
  clients: { client_id: string; scopes: string };
  resources: { uri: string; scopes: string; server_client_id: string | null; created_at: number };
  client_resources: { client_id: string; resource_uri: string };
  refresh_tokens: { resources: string };
}

/**
 * Schema migrations, in order. Portable DDL only (text ids, bigint epoch-ms, integer
 * booleans) so SQLite and PostgreSQL run the same statements.
 */
const createMigrations = ({
  legacyAudience = 'tessera-api',
}: MigrationOptions): Record<string, Migration> => ({
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
  '0002_refresh_tokens': {
    async up(db: Kysely<unknown>) {
      // One row per refresh token, keyed by its SHA-256 digest; never the token itself.
      await db.schema
        .createTable('refresh_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('family_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('idle_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('successor_id', 'text')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('refresh_tokens_family').on('refresh_tokens').column('family_id').execute();
      await db.schema.createIndex('refresh_tokens_user').on('refresh_tokens').column('user_id').execute();
      await db.schema.createIndex('refresh_tokens_client').on('refresh_tokens').column('client_id').execute();
      // What resource servers must refuse until `expires_at` (the revocation feed).
      await db.schema
        .createTable('revocations')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('revocations_pk', ['kind', 'value'])
        .execute();
      await db.schema.createIndex('revocations_expiry').on('revocations').column('expires_at').execute();
    },
  },
  // Key lifecycle: when a key stopped signing (its retirement is counted from then) and
  // when it was declared compromised; at most one pending key, like the one active key, so two
  // replicas preparing the next key at once cannot both add one.
  '0003_key_lifecycle': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('signing_keys').addColumn('retiring_at', 'bigint').execute();
      await db.schema.alterTable('signing_keys').addColumn('compromised_at', 'bigint').execute();
      await db.schema
        .createIndex('signing_keys_one_pending')
        .on('signing_keys')
        .column('state')
        .unique()
        .where(sql.ref('state'), '=', 'pending')
        .execute();
    },
  },
  // Failed-login counts per username. In the database, not in process memory, so
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
  // Each revocation remembers the client whose request added it, so a per-client quota bounds
  // the feed (tokens/revocations.ts); cut-offs (users, deleted clients) have none.
  '0007_revocation_client': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('revocations').addColumn('client_id', 'text').execute();
      await db.schema
        .createIndex('revocations_client')
        .on('revocations')
        .columns(['client_id', 'expires_at'])
        .execute();
    },
  },
  // private_key_jwt clients (RFC 7523 §2.2): their public keys, and the assertion ids already
  // used (single use across replicas; rows expire with the assertions, pruned by the server).
  '0008_client_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('clients').addColumn('jwks', 'text').execute();
      await db.schema
        .createTable('client_assertion_jtis')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('client_assertion_jtis_expiry')
        .on('client_assertion_jtis')
        .column('expires_at')
        .execute();
    },
  },
  // One audience per service (RFC 8707): registered resources with the scopes they understand
  // and the client that serves each one, which resources each client may ask for, and the
  // resources of each refresh-token grant. An existing deployment keeps working: its one
  // audience becomes a resource understanding every scope a client held, allowed to every
  // existing client, and the grants of live refresh tokens are for it.
  '0009_resources': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('resources')
        .addColumn('uri', 'text', (c) => c.primaryKey())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('server_client_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('resources_server').on('resources').column('server_client_id').execute();
      await db.schema
        .createTable('client_resources')
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('resource_uri', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('client_resources_pk', ['client_id', 'resource_uri'])
        .execute();
      await db.schema
        .createIndex('client_resources_resource')
        .on('client_resources')
        .column('resource_uri')
        .execute();
      await db.schema
        .alterTable('refresh_tokens')
        .addColumn('resources', 'text', (c) => c.notNull().defaultTo(''))
        .execute();

      const tables = db as unknown as Kysely<ResourceMigrationTables>;
      const clients = await tables.selectFrom('clients').select(['client_id', 'scopes']).execute();
      if (clients.length === 0) return;
      const scopes = new Set(clients.flatMap((client) => client.scopes.split(' ').filter((s) => s !== '')));
      await tables
        .insertInto('resources')
        .values({
          uri: legacyAudience,
          scopes: [...scopes].sort().join(' '),
          server_client_id: null,
          created_at: Date.now(),
        })
        .execute();
      await tables
        .insertInto('client_resources')
        .values(clients.map((client) => ({ client_id: client.client_id, resource_uri: legacyAudience })))
        .execute();
      await tables.updateTable('refresh_tokens').set({ resources: legacyAudience }).execute();
    },
  },
  // Browser sign-in (authorization code flow, OpenID Connect): each client's redirect URIs and
  // whether it is first-party; codes (by digest, single use), browser sessions (by cookie digest)
  // and remembered consents.
  '0010_authorization_codes': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('clients')
        .addColumn('redirect_uris', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema
        .alterTable('clients')
        .addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema
        .alterTable('clients')
        .addColumn('first_party', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('authorization_codes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('grant_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('code_challenge', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text')
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('auth_time', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('resources', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema
        .createIndex('authorization_codes_expiry')
        .on('authorization_codes')
        .column('expires_at')
        .execute();
      await db.schema
        .createTable('browser_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sid', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('auth_time', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('idle_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .execute();
      await db.schema.createIndex('browser_sessions_user').on('browser_sessions').column('user_id').execute();
      await db.schema
        .createTable('consents')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('granted_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('consents_pk', ['user_id', 'client_id'])
        .execute();
    },
  },
});

/** Brings the schema up to date. Kysely's migrator holds a lock, so replicas starting together do not race. */
export async function migrateToLatest<DB>(db: Kysely<DB>, options: MigrationOptions = {}): Promise<void> {
  const migrator = new Migrator({
    db: db as Kysely<unknown>,
    provider: { getMigrations: () => Promise.resolve(createMigrations(options)) },
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw new Error('database migration failed', { cause: error });
}

/**
 * Brings the schema up to `name` and no further: how an upgrade test builds a database as an
 * earlier release left it.
 */
export async function migrateTo<DB>(
  db: Kysely<DB>,
  name: string,
  options: MigrationOptions = {},
): Promise<void> {
  const migrator = new Migrator({
    db: db as Kysely<unknown>,
    provider: { getMigrations: () => Promise.resolve(createMigrations(options)) },
  });
  const { error } = await migrator.migrateTo(name);
  if (error !== undefined) throw new Error('database migration failed', { cause: error });
}
