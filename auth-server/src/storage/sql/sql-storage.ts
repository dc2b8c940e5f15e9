import { sql, type Kysely, type Transaction } from 'kysely';
import {
  StorageConflictError,
  type AuthorizationCodeRecord,
  type BrowserSessionRecord,
  type ClientJwk,
  type ClientRecord,
  type GrantType,
  type KeyState,
  type RefreshTokenRecord,
  type ResourceRecord,
  type RevocationKind,
  type RevocationRecord,
  type SigningKeyRecord,
  type Storage,
  type UserRecord,
} from '../storage.js';
import { precompile } from './precompiled.js';
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

function toClient(row: Tables['clients'], resources: readonly string[]): ClientRecord {
  return {
    clientId: row.client_id,
    secretDigest: row.secret_digest,
    isPublic: row.is_public === 1,
    grants: splitList(row.grants) as GrantType[],
    scopes: splitList(row.scopes),
    resources,
    createdAt: row.created_at,
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as ClientJwk[]),
    redirectUris: splitList(row.redirect_uris),
    postLogoutRedirectUris: splitList(row.post_logout_redirect_uris),
    firstParty: row.first_party === 1,
  };
}

function toResource(row: Tables['resources']): ResourceRecord {
  return {
    uri: row.uri,
    scopes: splitList(row.scopes),
    serverClientId: row.server_client_id,
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

function toRefreshToken(row: Tables['refresh_tokens']): RefreshTokenRecord {
  return {
    id: row.id,
    familyId: row.family_id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: splitList(row.scope),
    resources: splitList(row.resources),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    idleExpiresAt: row.idle_expires_at,
    consumedAt: row.consumed_at,
    successorId: row.successor_id,
    revokedAt: row.revoked_at,
  };
}

function toAuthorizationCode(row: Tables['authorization_codes']): AuthorizationCodeRecord {
  return {
    id: row.id,
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    scope: splitList(row.scope),
    nonce: row.nonce,
    sessionId: row.session_id,
    authTime: Number(row.auth_time),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
    resources: splitList(row.resources),
  };
}

function toBrowserSession(row: Tables['browser_sessions']): BrowserSessionRecord {
  return {
    id: row.id,
    sid: row.sid,
    userId: row.user_id,
    authTime: Number(row.auth_time),
    lastSeenAt: Number(row.last_seen_at),
    idleExpiresAt: Number(row.idle_expires_at),
    expiresAt: Number(row.expires_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
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

/**
 * The refresh grant's statements (every rotation runs each once), built and compiled once:
 * Kysely building them cost about as much CPU as SQLite running them.
 */
const refreshTokenColumns = [
  'id',
  'family_id',
  'client_id',
  'user_id',
  'scope',
  'resources',
  'created_at',
  'expires_at',
  'idle_expires_at',
  'consumed_at',
  'successor_id',
  'revoked_at',
] as const;
const hot = {
  findUserById: precompile(['id'], (db: Kysely<Tables>, v) =>
    db.selectFrom('users').selectAll().where('id', '=', v.id),
  ),
  findRefreshToken: precompile(['id'], (db: Kysely<Tables>, v) =>
    db.selectFrom('refresh_tokens').selectAll().where('id', '=', v.id),
  ),
  insertRefreshToken: precompile(refreshTokenColumns, (db: Kysely<Tables>, v) =>
    db.insertInto('refresh_tokens').values(v),
  ),
  markRefreshTokenConsumed: precompile(['now', 'successorId', 'id'], (db: Kysely<Tables>, v) =>
    db
      .updateTable('refresh_tokens')
      .set({ consumed_at: v.now, successor_id: v.successorId })
      .where('id', '=', v.id)
      .where('consumed_at', 'is', null)
      .where('revoked_at', 'is', null),
  ),
};

/** Thrown inside a transaction to roll it back when a compare-and-set finds the row changed. */
class LostRace extends Error {}

/**
 * The Storage contract on Kysely: the same code for SQLite and PostgreSQL. Given a
 * transaction, every method runs inside it.
 */
export function createSqlStorage(db: Kysely<Tables> | Transaction<Tables>): Storage {
  /** Each client's resources, in one query for any number of clients. */
  async function resourcesOf(clientIds: readonly string[]): Promise<Map<string, string[]>> {
    const byClient = new Map<string, string[]>(clientIds.map((id) => [id, []]));
    if (clientIds.length === 0) return byClient;
    const rows = await db
      .selectFrom('client_resources')
      .select(['client_id', 'resource_uri'])
      .where('client_id', 'in', clientIds)
      .orderBy('resource_uri')
      .execute();
    for (const row of rows) byClient.get(row.client_id)?.push(row.resource_uri);
    return byClient;
  }
  /** Replaces a client's resource list (inside the caller's transaction when there is one). */
  async function writeResources(
    tx: Kysely<Tables> | Transaction<Tables>,
    clientId: string,
    resources: readonly string[],
  ): Promise<void> {
    await tx.deleteFrom('client_resources').where('client_id', '=', clientId).execute();
    if (resources.length > 0)
      await tx
        .insertInto('client_resources')
        .values([...new Set(resources)].map((uri) => ({ client_id: clientId, resource_uri: uri })))
        .execute();
  }
  /** Runs `work` in a transaction, or in the one `db` already is. */
  const inTransaction = <T>(work: (tx: Kysely<Tables> | Transaction<Tables>) => Promise<T>): Promise<T> =>
    db.isTransaction ? work(db) : db.transaction().execute(work);

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
      async findById(id) {
        const [row] = (await hot.findUserById(db, { id })).rows;
        return row === undefined ? undefined : toUser(row);
      },
      async setDisabled(username, disabled) {
        const row = await db
          .updateTable('users')
          .set({ disabled: disabled ? 1 : 0 })
          .where('username', '=', username)
          .returningAll()
          .executeTakeFirst();
        return row === undefined ? undefined : toUser(row);
      },
    },
    clients: {
      async insert(client) {
        await inTransaction(async (tx) => {
          await tx
            .insertInto('clients')
            .values({
              client_id: client.clientId,
              secret_digest: client.secretDigest,
              is_public: client.isPublic ? 1 : 0,
              grants: client.grants.join(' '),
              scopes: client.scopes.join(' '),
              created_at: client.createdAt,
              jwks: client.jwks === null ? null : JSON.stringify(client.jwks),
              redirect_uris: client.redirectUris.join(' '),
              post_logout_redirect_uris: client.postLogoutRedirectUris.join(' '),
              first_party: client.firstParty ? 1 : 0,
            })
            .execute()
            .catch(translate);
          await writeResources(tx, client.clientId, client.resources);
        });
      },
      async find(clientId) {
        const row = await db
          .selectFrom('clients')
          .selectAll()
          .where('client_id', '=', clientId)
          .executeTakeFirst();
        if (row === undefined) return undefined;
        return toClient(row, (await resourcesOf([clientId])).get(clientId) ?? []);
      },
      async list() {
        const rows = await db.selectFrom('clients').selectAll().orderBy('client_id').execute();
        const resources = await resourcesOf(rows.map((row) => row.client_id));
        return rows.map((row) => toClient(row, resources.get(row.client_id) ?? []));
      },
      async setResources(clientId, resources) {
        return inTransaction(async (tx) => {
          const found = await tx
            .selectFrom('clients')
            .select('client_id')
            .where('client_id', '=', clientId)
            .executeTakeFirst();
          if (found === undefined) return false;
          await writeResources(tx, clientId, resources);
          return true;
        });
      },
      async setJwks(clientId, jwks) {
        const result = await db
          .updateTable('clients')
          .set({ jwks: JSON.stringify(jwks) })
          .where('client_id', '=', clientId)
          .where('jwks', 'is not', null)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      },
      async delete(clientId) {
        return inTransaction(async (tx) => {
          await tx.deleteFrom('client_resources').where('client_id', '=', clientId).execute();
          // A resource's server is gone with it: nobody introspects for that resource any more.
          await tx
            .updateTable('resources')
            .set({ server_client_id: null })
            .where('server_client_id', '=', clientId)
            .execute();
          const result = await tx.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
          return result.numDeletedRows > 0n;
        });
      },
    },
    resources: {
      async insert(resource) {
        await db
          .insertInto('resources')
          .values({
            uri: resource.uri,
            scopes: resource.scopes.join(' '),
            server_client_id: resource.serverClientId,
            created_at: resource.createdAt,
          })
          .execute()
          .catch(translate);
      },
      async find(uri) {
        const row = await db.selectFrom('resources').selectAll().where('uri', '=', uri).executeTakeFirst();
        return row === undefined ? undefined : toResource(row);
      },
      async list() {
        const rows = await db.selectFrom('resources').selectAll().orderBy('uri').execute();
        return rows.map(toResource);
      },
      async listServedBy(clientId) {
        const rows = await db
          .selectFrom('resources')
          .selectAll()
          .where('server_client_id', '=', clientId)
          .orderBy('uri')
          .execute();
        return rows.map(toResource);
      },
      async update(uri, change) {
        const set: Partial<Tables['resources']> = {};
        if (change.scopes !== undefined) set.scopes = change.scopes.join(' ');
        if (change.serverClientId !== undefined) set.server_client_id = change.serverClientId;
        const row =
          Object.keys(set).length === 0
            ? await db.selectFrom('resources').selectAll().where('uri', '=', uri).executeTakeFirst()
            : await db
                .updateTable('resources')
                .set(set)
                .where('uri', '=', uri)
                .returningAll()
                .executeTakeFirst();
        return row === undefined ? undefined : toResource(row);
      },
      async delete(uri) {
        return inTransaction(async (tx) => {
          await tx.deleteFrom('client_resources').where('resource_uri', '=', uri).execute();
          const result = await tx.deleteFrom('resources').where('uri', '=', uri).executeTakeFirst();
          return result.numDeletedRows > 0n;
        });
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
      async replaceEncrypted(updates) {
        try {
          await db.transaction().execute(async (trx) => {
            for (const { kid, from, to } of updates) {
              const result = await trx
                .updateTable('signing_keys')
                .set({ private_key_encrypted: to })
                .where('kid', '=', kid)
                .where('private_key_encrypted', '=', from)
                .executeTakeFirst();
              if (result.numUpdatedRows === 0n) throw new LostRace();
            }
          });
          return true;
        } catch (error) {
          if (error instanceof LostRace) return false;
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
            // The pending key is already published (resource servers hold it or fetch it on the
            // feed's key-set announcement): it signs now, and the replacement is published as pending.
            const pending = await trx
              .updateTable('signing_keys')
              .set({ state: 'active', activated_at: now })
              .where('state', '=', 'pending')
              .returning('kid')
              .executeTakeFirst();
            await trx
              .insertInto('signing_keys')
              .values(
                toSigningKeyRow(
                  pending === undefined
                    ? { ...replacement, state: 'active', activatedAt: now }
                    : { ...replacement, state: 'pending', activatedAt: null },
                ),
              )
              .execute()
              .catch(translate);
            return { previousState: 'active' as const, activated: pending?.kid ?? replacement.kid };
          }
          for (const state of ['pending', 'retiring'] as const) {
            const result = await trx
              .updateTable('signing_keys')
              .set(compromised)
              .where('kid', '=', kid)
              .where('state', '=', state)
              .executeTakeFirst();
            if (result.numUpdatedRows > 0n) return { previousState: state };
          }
          return undefined;
        });
      },
    },
    refreshTokens: {
      async insert(token) {
        await hot
          .insertRefreshToken(db, {
            id: token.id,
            family_id: token.familyId,
            client_id: token.clientId,
            user_id: token.userId,
            scope: token.scope.join(' '),
            resources: token.resources.join(' '),
            created_at: token.createdAt,
            expires_at: token.expiresAt,
            idle_expires_at: token.idleExpiresAt,
            consumed_at: token.consumedAt,
            successor_id: token.successorId,
            revoked_at: token.revokedAt,
          })
          .catch(translate);
      },
      async find(id) {
        const [row] = (await hot.findRefreshToken(db, { id })).rows;
        return row === undefined ? undefined : toRefreshToken(row);
      },
      async listFamily(familyId) {
        const rows = await db
          .selectFrom('refresh_tokens')
          .selectAll()
          .where('family_id', '=', familyId)
          .orderBy('created_at')
          .execute();
        return rows.map(toRefreshToken);
      },
      async markConsumed(id, successorId, now) {
        const result = await hot.markRefreshTokenConsumed(db, { now, successorId, id });
        return result.numAffectedRows === 1n;
      },
      async revokeFamily(familyId, now) {
        const result = await db
          .updateTable('refresh_tokens')
          .set({ revoked_at: now })
          .where('family_id', '=', familyId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      },
      async revokeForUser(userId, now) {
        const rows = await db
          .updateTable('refresh_tokens')
          .set({ revoked_at: now })
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null)
          .returning('family_id')
          .execute();
        return [...new Set(rows.map((row) => row.family_id))];
      },
      async listLiveFamiliesForClient(clientId) {
        const rows = await db
          .selectFrom('refresh_tokens')
          .select('family_id')
          .distinct()
          .where('client_id', '=', clientId)
          .where('revoked_at', 'is', null)
          .orderBy('family_id')
          .execute();
        return rows.map((row) => row.family_id);
      },
      async deleteForClient(clientId) {
        await db.deleteFrom('refresh_tokens').where('client_id', '=', clientId).execute();
      },
      async prune(now) {
        const result = await db
          .deleteFrom('refresh_tokens')
          .where((eb) => eb.or([eb('expires_at', '<=', now), eb('idle_expires_at', '<=', now)]))
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      },
    },
    revocations: {
      async upsert(entry) {
        await db
          .insertInto('revocations')
          .values({
            kind: entry.kind,
            value: entry.value,
            client_id: entry.clientId,
            revoked_at: entry.revokedAt,
            expires_at: entry.expiresAt,
          })
          // The later of the two wins; CASE because SQLite lacks GREATEST and PostgreSQL's max() aggregates.
          .onConflict((conflict) =>
            conflict.columns(['kind', 'value']).doUpdateSet({
              revoked_at: sql<number>`case when excluded.revoked_at > revocations.revoked_at then excluded.revoked_at else revocations.revoked_at end`,
              expires_at: sql<number>`case when excluded.expires_at > revocations.expires_at then excluded.expires_at else revocations.expires_at end`,
            }),
          )
          .execute();
      },
      async prune(nowSeconds) {
        const result = await db
          .deleteFrom('revocations')
          .where('expires_at', '<=', nowSeconds)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      },
      async countForClient(clientId, nowSeconds) {
        const row = await db
          .selectFrom('revocations')
          .select((eb) => eb.fn.countAll<number | string | bigint>().as('count'))
          .where('client_id', '=', clientId)
          .where('expires_at', '>', nowSeconds)
          .executeTakeFirstOrThrow();
        return Number(row.count);
      },
      async listActive(nowSeconds) {
        const rows = await db
          .selectFrom('revocations')
          .selectAll()
          .where('expires_at', '>', nowSeconds)
          .orderBy('kind')
          .orderBy('value')
          .execute();
        return rows.map((row) => ({
          kind: row.kind as RevocationKind,
          value: row.value,
          clientId: row.client_id,
          revokedAt: row.revoked_at,
          expiresAt: row.expires_at,
        })) satisfies RevocationRecord[];
      },
    },
    assertionJtis: {
      async claim(key, expiresAt, now) {
        // One statement: inserted, or an expired entry taken over; a live one is left alone and
        // nothing is returned, so two replicas claiming the same key cannot both succeed.
        const row = await db
          .insertInto('client_assertion_jtis')
          .values({ key, expires_at: expiresAt })
          .onConflict((conflict) =>
            conflict
              .column('key')
              .doUpdateSet({ expires_at: expiresAt })
              .where('client_assertion_jtis.expires_at', '<=', now),
          )
          .returning('key')
          .executeTakeFirst();
        return row !== undefined;
      },
      async prune(now) {
        const result = await db
          .deleteFrom('client_assertion_jtis')
          .where('expires_at', '<=', now)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      },
    },
    async transaction(work) {
      if (db.isTransaction) throw new Error('storage transactions do not nest');
      return db.transaction().execute((tx) => work(createSqlStorage(tx)));
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
    authorizationCodes: {
      async insert(code) {
        await db
          .insertInto('authorization_codes')
          .values({
            id: code.id,
            grant_id: code.grantId,
            client_id: code.clientId,
            user_id: code.userId,
            redirect_uri: code.redirectUri,
            code_challenge: code.codeChallenge,
            scope: code.scope.join(' '),
            nonce: code.nonce,
            session_id: code.sessionId,
            auth_time: code.authTime,
            created_at: code.createdAt,
            expires_at: code.expiresAt,
            consumed_at: code.consumedAt,
            resources: code.resources.join(' '),
          })
          .execute()
          .catch(translate);
      },
      async consume(id, clientId, now) {
        // One conditional update: of any number of concurrent redemptions exactly one sees a row;
        // another client's attempt matches none, so it cannot burn the code (code injection).
        const row = await db
          .updateTable('authorization_codes')
          .set({ consumed_at: now })
          .where('id', '=', id)
          .where('client_id', '=', clientId)
          .where('consumed_at', 'is', null)
          .returningAll()
          .executeTakeFirst();
        if (row !== undefined) return { record: toAuthorizationCode(row), first: true };
        const used = await db
          .selectFrom('authorization_codes')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst();
        return used === undefined ? undefined : { record: toAuthorizationCode(used), first: false };
      },
      async prune(before) {
        const result = await db
          .deleteFrom('authorization_codes')
          .where('expires_at', '<', before)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      },
    },
    browserSessions: {
      async insert(session) {
        await db
          .insertInto('browser_sessions')
          .values({
            id: session.id,
            sid: session.sid,
            user_id: session.userId,
            auth_time: session.authTime,
            last_seen_at: session.lastSeenAt,
            idle_expires_at: session.idleExpiresAt,
            expires_at: session.expiresAt,
            ended_at: session.endedAt,
          })
          .execute()
          .catch(translate);
      },
      async find(id) {
        const row = await db
          .selectFrom('browser_sessions')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst();
        return row === undefined ? undefined : toBrowserSession(row);
      },
      async touch(id, now, idleExpiresAt) {
        await db
          .updateTable('browser_sessions')
          .set({
            last_seen_at: now,
            idle_expires_at: sql<number>`case when expires_at < ${idleExpiresAt} then expires_at else ${idleExpiresAt} end`,
          })
          .where('id', '=', id)
          .where('ended_at', 'is', null)
          .execute();
      },
      async end(id, now) {
        const result = await db
          .updateTable('browser_sessions')
          .set({ ended_at: now })
          .where('id', '=', id)
          .where('ended_at', 'is', null)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      },
      async endForUser(userId, now) {
        const result = await db
          .updateTable('browser_sessions')
          .set({ ended_at: now })
          .where('user_id', '=', userId)
          .where('ended_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      },
      async prune(before) {
        const result = await db
          .deleteFrom('browser_sessions')
          .where((eb) =>
            eb.or([
              eb('ended_at', '<', before),
              eb('expires_at', '<', before),
              eb('idle_expires_at', '<', before),
            ]),
          )
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      },
    },
    consents: {
      async find(userId, clientId) {
        const row = await db
          .selectFrom('consents')
          .selectAll()
          .where('user_id', '=', userId)
          .where('client_id', '=', clientId)
          .executeTakeFirst();
        return row === undefined
          ? undefined
          : { userId, clientId, scope: splitList(row.scope), grantedAt: Number(row.granted_at) };
      },
      async upsert(consent) {
        const values = {
          user_id: consent.userId,
          client_id: consent.clientId,
          scope: consent.scope.join(' '),
          granted_at: consent.grantedAt,
        };
        await db
          .insertInto('consents')
          .values(values)
          .onConflict((conflict) =>
            conflict
              .columns(['user_id', 'client_id'])
              .doUpdateSet({ scope: values.scope, granted_at: values.granted_at }),
          )
          .execute();
      },
      async delete(userId, clientId) {
        const result = await db
          .deleteFrom('consents')
          .where('user_id', '=', userId)
          .where('client_id', '=', clientId)
          .executeTakeFirst();
        return result.numDeletedRows > 0n;
      },
      async deleteForClient(clientId) {
        await db.deleteFrom('consents').where('client_id', '=', clientId).execute();
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
