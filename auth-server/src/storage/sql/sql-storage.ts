import { sql, type Kysely } from 'kysely';
import {
  StorageConflictError,
  type ClientRecord,
  type GrantType,
  type KeyState,
  type SigningKeyRecord,
  type Storage,
  type UserRecord,
} from '../storage.js';
import type { Tables } from './tables.js';

/** Unique-key violations from better-sqlite3 and pg become StorageConflictError. */
function translate(error: unknown): never {
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') {
    throw new StorageConflictError('record already exists', { cause: error });
  }
  throw error;
}

const splitList = (text: string): string[] => text.split(' ').filter((item) => item !== '');

function toUser(row: Tables['users']): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    scopes: splitList(row.scopes),
    disabled: row.disabled === 1,
    createdAt: row.created_at,
  };
}

function toClient(row: Tables['clients']): ClientRecord {
  return {
    clientId: row.client_id,
    secretDigest: row.secret_digest,
    isPublic: row.is_public === 1,
    grants: splitList(row.grants) as GrantType[],
    scopes: splitList(row.scopes),
    createdAt: row.created_at,
  };
}

function toSigningKey(row: Tables['signing_keys']): SigningKeyRecord {
  return {
    kid: row.kid,
    state: row.state as KeyState,
    alg: 'RS256',
    publicJwk: JSON.parse(row.public_jwk) as SigningKeyRecord['publicJwk'],
    privateKeyEncrypted: row.private_key_encrypted,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    retiredAt: row.retired_at,
  };
}

/** The Storage contract on Kysely: the same code for SQLite and PostgreSQL. */
export function createSqlStorage(db: Kysely<Tables>): Storage {
  return {
    users: {
      async insert(user) {
        await db
          .insertInto('users')
          .values({
            id: user.id,
            username: user.username,
            password_hash: user.passwordHash,
            scopes: user.scopes.join(' '),
            disabled: user.disabled ? 1 : 0,
            created_at: user.createdAt,
          })
          .execute()
          .catch(translate);
      },
      async findByUsername(username) {
        const row = await db
          .selectFrom('users')
          .selectAll()
          .where('username', '=', username)
          .executeTakeFirst();
        return row === undefined ? undefined : toUser(row);
      },
      async setDisabled(username, disabled) {
        const result = await db
          .updateTable('users')
          .set({ disabled: disabled ? 1 : 0 })
          .where('username', '=', username)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      },
    },
    clients: {
      async insert(client) {
        await db
          .insertInto('clients')
          .values({
            client_id: client.clientId,
            secret_digest: client.secretDigest,
            is_public: client.isPublic ? 1 : 0,
            grants: client.grants.join(' '),
            scopes: client.scopes.join(' '),
            created_at: client.createdAt,
          })
          .execute()
          .catch(translate);
      },
      async find(clientId) {
        const row = await db
          .selectFrom('clients')
          .selectAll()
          .where('client_id', '=', clientId)
          .executeTakeFirst();
        return row === undefined ? undefined : toClient(row);
      },
    },
    keys: {
      async list() {
        const rows = await db
          .selectFrom('signing_keys')
          .selectAll()
          .orderBy('created_at')
          .orderBy('kid')
          .execute();
        return rows.map(toSigningKey);
      },
      async insert(key) {
        await db
          .insertInto('signing_keys')
          .values({
            kid: key.kid,
            state: key.state,
            alg: key.alg,
            public_jwk: JSON.stringify(key.publicJwk),
            private_key_encrypted: key.privateKeyEncrypted,
            created_at: key.createdAt,
            activated_at: key.activatedAt,
            retired_at: key.retiredAt,
          })
          .execute()
          .catch(translate);
      },
    },
    loginThrottle: {
      async find(key) {
        const row = await db
          .selectFrom('login_throttle')
          .select(['failures', 'last_failure_at'])
          .where('key', '=', key)
          .executeTakeFirst();
        return row === undefined ? undefined : { failures: row.failures, lastFailureAt: row.last_failure_at };
      },
      async addFailure(key, now, forgetBefore) {
        // One statement (INSERT … ON CONFLICT … RETURNING, SQLite ≥ 3.35 and PostgreSQL): no
        // read-modify-write window in which two replicas could both count the same failure.
        const row = await db
          .insertInto('login_throttle')
          .values({ key, failures: 1, last_failure_at: now })
          .onConflict((conflict) =>
            conflict.column('key').doUpdateSet({
              failures: sql<number>`case when login_throttle.last_failure_at < ${forgetBefore} then 1 else login_throttle.failures + 1 end`,
              last_failure_at: now,
            }),
          )
          .returning('failures')
          .executeTakeFirstOrThrow();
        return row.failures;
      },
      async clear(key) {
        const result = await db.deleteFrom('login_throttle').where('key', '=', key).executeTakeFirst();
        return result.numDeletedRows > 0n;
      },
      async prune(before) {
        const result = await db
          .deleteFrom('login_throttle')
          .where('last_failure_at', '<', before)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      },
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
