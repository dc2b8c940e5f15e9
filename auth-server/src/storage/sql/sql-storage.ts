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
    retiringAt: row.retiring_at,
    retiredAt: row.retired_at,
    compromisedAt: row.compromised_at,
  };
}

function toSigningKeyRow(key: SigningKeyRecord): Tables['signing_keys'] {
  return {
    kid: key.kid,
    state: key.state,
    alg: key.alg,
    public_jwk: JSON.stringify(key.publicJwk),
    private_key_encrypted: key.privateKeyEncrypted,
    created_at: key.createdAt,
    activated_at: key.activatedAt,
    retiring_at: key.retiringAt,
    retired_at: key.retiredAt,
    compromised_at: key.compromisedAt,
  };
}

/** Thrown inside a transaction to roll it back when a compare-and-set finds the row changed. */
class LostRace extends Error {}

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
        await db.insertInto('signing_keys').values(toSigningKeyRow(key)).execute().catch(translate);
      },
      async rotate({ now, demote, promote, insert }) {
        try {
          await db.transaction().execute(async (trx) => {
            // Demote first: the unique index allows one active key at any instant, even inside a transaction.
            if (demote !== undefined) {
              const demoted = await trx
                .updateTable('signing_keys')
                .set({ state: 'retiring', retiring_at: now })
                .where('kid', '=', demote)
                .where('state', '=', 'active')
                .executeTakeFirst();
              if (demoted.numUpdatedRows === 0n) throw new LostRace();
            }
            if (promote !== undefined) {
              const promoted = await trx
                .updateTable('signing_keys')
                .set({ state: 'active', activated_at: now })
                .where('kid', '=', promote)
                .where('state', '=', 'pending')
                .executeTakeFirst();
              if (promoted.numUpdatedRows === 0n) throw new LostRace();
            }
            for (const key of insert) {
              await trx.insertInto('signing_keys').values(toSigningKeyRow(key)).execute().catch(translate);
            }
          });
          return true;
        } catch (error) {
          if (error instanceof LostRace || error instanceof StorageConflictError) return false;
          throw error;
        }
      },
      async retire(kid, now) {
        const result = await db
          .updateTable('signing_keys')
          .set({ state: 'retired', retired_at: now, private_key_encrypted: null })
          .where('kid', '=', kid)
          .where('state', '=', 'retiring')
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      },
      async compromise(kid, now, replacement) {
        const compromised = { state: 'compromised', compromised_at: now, private_key_encrypted: null };
        return db.transaction().execute(async (trx) => {
          const wasActive = await trx
            .updateTable('signing_keys')
            .set(compromised)
            .where('kid', '=', kid)
            .where('state', '=', 'active')
            .executeTakeFirst();
          if (wasActive.numUpdatedRows > 0n) {
            await trx
              .insertInto('signing_keys')
              .values(toSigningKeyRow({ ...replacement, state: 'active', activatedAt: now }))
              .execute()
              .catch(translate);
            return 'active' as const;
          }
          for (const state of ['pending', 'retiring'] as const) {
            const result = await trx
              .updateTable('signing_keys')
              .set(compromised)
              .where('kid', '=', kid)
              .where('state', '=', state)
              .executeTakeFirst();
            if (result.numUpdatedRows > 0n) return state;
          }
          return undefined;
        });
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
