import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { expect } from '@jest/globals';
import request, { type Response, type Test } from 'supertest';
import {
  createFixedClock,
  createLogger,
  revocationDigest,
  type Logger,
  type RevocationClaim,
  type RevocationFeedDocument,
} from '@tessera/shared';
import { loadConfig, type AuthConfig } from '../src/config.js';
import { createAuthApp, loadServices, type Services } from '../src/app.js';
import { openDatabase } from '../src/storage/sql/database.js';
import { migrateToLatest } from '../src/storage/sql/migrations.js';
import { createSqlStorage } from '../src/storage/sql/sql-storage.js';
import type { Storage } from '../src/storage/storage.js';
import { createPasswordHasher, type PasswordHasher } from '../src/users/passwords.js';

/** A logger whose lines are kept in memory, to assert on what was (and was not) logged. */
export function createCapturedLogger(level: 'debug' | 'info' = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level, destination }), lines };
}

export interface TestAuth {
  app: Express;
  config: AuthConfig;
  services: Services;
  clock: ReturnType<typeof createFixedClock>;
  lines: string[];
  dataDir: string;
  close(): Promise<void>;
}

/**
 * A real auth server app on a fresh SQLite file in a temp folder, with a fixed clock
 * (set to the real time, so jose-verified tokens are current) and captured logs.
 */
export async function createTestAuth(
  env: Record<string, string> = {},
  options: { hasher?: PasswordHasher; redis?: Redis } = {},
): Promise<TestAuth> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    KEY_ENCRYPTION_SECRET: 'test-secret-test-secret-test-secret-0123',
    ISSUER: 'http://auth.test',
    ...env,
  });
  const { logger, lines } = createCapturedLogger('debug');
  const clock = createFixedClock(Date.now());
  const services = await loadServices(config, logger, clock, options.hasher);
  await services.keys.load();
  // The resource the tests' clients ask tokens for, understanding the scopes they use.
  await services.storage.resources.insert({
    uri: testResource,
    scopes: ['notes:read', 'notes:write', 'profile', 'admin', 'a', 'b'],
    serverClientId: null,
    createdAt: clock.now(),
  });
  return {
    app: createAuthApp(config, logger, services, options.redis),
    config,
    services,
    clock,
    lines,
    dataDir,
    async close() {
      await services.storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** The resource the helpers' clients may ask for (their one resource, so they may omit `resource`). */
export const testResource = 'https://api.test';

/**
 * Registers `testResource` (or widens it) so that it understands `scopes`: the helpers' clients
 * get tokens for it as before resources existed. Straight into the store, which takes any list.
 */
export async function allowTestResource(auth: TestAuth, scopes: string): Promise<void> {
  const store = auth.services.resourceStore;
  const wanted = scopes.split(/\s+/).filter((scope) => scope !== '');
  const existing = await store.find(testResource);
  if (existing === undefined)
    await store.insert({ uri: testResource, scopes: wanted, serverClientId: null, createdAt: Date.now() });
  else await store.update(testResource, { scopes: [...new Set([...existing.scopes, ...wanted])] });
}

/**
 * Registers a confidential client through the service (as the admin CLI does) and returns its
 * secret. Unless `resources` is given, it may ask for `testResource`, which understands its scopes.
 */
export async function createClientFor(
  auth: TestAuth,
  client: { clientId: string; grants: string; scopes: string; resources?: string },
): Promise<string> {
  if (client.resources === undefined) await allowTestResource(auth, client.scopes);
  const { secret } = await auth.services.clients.create({
    resources: testResource,
    ...client,
    isPublic: false,
  });
  if (secret === undefined) throw new Error(`confidential client ${client.clientId} got no secret`);
  return secret;
}

/**
 * A test auth server (see createTestAuth) with the confidential client `app`, allowed every grant
 * and the given scopes; returns it with app's secret.
 */
export async function createTestAuthWithApp(
  scopes = 'notes:read notes:write',
): Promise<{ auth: TestAuth; appSecret: string }> {
  const auth = await createTestAuth();
  const appSecret = await createClientFor(auth, {
    clientId: 'app',
    grants: 'password,refresh_token,client_credentials',
    scopes,
  });
  return { auth, appSecret };
}

/**
 * The clients the revoke and introspect tests share, on a fresh test auth server: `app` (see
 * createTestAuthWithApp), `other` (confidential, `otherGrants`, scope notes:read) and `mobile`
 * (public, password and refresh_token, scope notes:read). Returns the two secrets.
 */
export async function createTestAuthWithClients(
  otherGrants: string,
): Promise<{ auth: TestAuth; appSecret: string; otherSecret: string }> {
  const { auth, appSecret } = await createTestAuthWithApp();
  const otherSecret = await createClientFor(auth, {
    clientId: 'other',
    grants: otherGrants,
    scopes: 'notes:read',
  });
  await createPublicClientFor(auth, {
    clientId: 'mobile',
    grants: 'password,refresh_token',
    scopes: 'notes:read',
  });
  return { auth, appSecret, otherSecret };
}

/** The claims of a JWT, decoded without verifying it. */
export function decodeClaims<Claims = Record<string, unknown>>(jwt: string): Claims {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Claims;
}

/** The confidential client `web` with only the password grant and scope `a`; returns its secret. */
export function createPasswordClient(auth: TestAuth): Promise<string> {
  return createClientFor(auth, { clientId: 'web', grants: 'password', scopes: 'a' });
}

/** Registers a public client (no secret) through the service. */
export async function createPublicClientFor(
  auth: TestAuth,
  client: { clientId: string; grants: string; scopes: string; resources?: string },
): Promise<void> {
  if (client.resources === undefined) await allowTestResource(auth, client.scopes);
  await auth.services.clients.create({ resources: testResource, ...client, isPublic: true });
}

/** POSTs a urlencoded form of `pairs` to `path`, the client authenticating with client_secret_basic. */
export function postAsClient(
  auth: TestAuth,
  path: string,
  clientId: string,
  secret: string,
  ...pairs: [string, string][]
): Test {
  return request(auth.app)
    .post(path)
    .set('Authorization', basic(clientId, secret))
    .type('form')
    .send(form(...pairs));
}

/** A password-grant token request as a confidential client (Basic); expects 200 and returns the tokens. */
export async function passwordLogin(
  auth: TestAuth,
  clientId: string,
  secret: string,
  username: string,
  password: string,
): Promise<{ access_token: string; refresh_token: string; scope: string }> {
  const res = await postAsClient(
    auth,
    '/oauth/token',
    clientId,
    secret,
    ['grant_type', 'password'],
    ['username', username],
    ['password', password],
  );
  expect(res.status).toBe(200);
  return res.body as { access_token: string; refresh_token: string; scope: string };
}

/** A real SQLite store on a fresh file in a temp folder (for unit tests of the domain services). */
export async function createTestStorage(): Promise<{
  storage: Storage;
  file: string;
  dir: string;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  const file = join(dir, 'tessera.db');
  const storage = await openTestStorage(file);
  return {
    storage,
    file,
    dir,
    async close() {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens (and migrates) a second handle on an existing SQLite file, as another replica would. */
export async function openTestStorage(file: string): Promise<Storage> {
  const db = openDatabase({ dialect: 'sqlite', file });
  await migrateToLatest(db);
  return createSqlStorage(db);
}

/** A urlencoded form body from pairs (pairs, not an object, so tests can repeat a parameter). */
export function form(...pairs: [string, string][]): string {
  return new URLSearchParams(pairs).toString();
}

/**
 * The common shape of every error answer: the status, the RFC 6749 §5.2 JSON body with
 * exactly `error` (+ `error_description`) and nothing else (no stack, no cause), and
 * `Cache-Control: no-store`.
 */
export function expectError(res: Response, status: number, code: string): void {
  expect({ status: res.status, error: (res.body as { error?: unknown }).error }).toEqual({
    status,
    error: code,
  });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body as object).sort()).toEqual(
    'error_description' in (res.body as object) ? ['error', 'error_description'] : ['error'],
  );
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|stack/i);
  expect(res.headers['cache-control']).toBe('no-store');
  // RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E (no `"`, `\`, non-ASCII).
  const description = (res.body as { error_description?: unknown }).error_description;
  if (description !== undefined) expect(description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/);
  // Only invalid_client carries a challenge here (the auth server has no bearer-protected routes).
  if (code !== 'invalid_client') expect(res.headers['www-authenticate']).toBeUndefined();
}

/** RFC 6749 §5.2: invalid_client is 401 with a Basic challenge in our realm. */
export function expectInvalidClient(res: Response): void {
  expectError(res, 401, 'invalid_client');
  expect(res.headers['www-authenticate']).toMatch(/^Basic realm="tessera"(, charset="UTF-8")?$/);
}

/**
 * Argon2id at a tiny cost (1 MiB, one pass): the same code path in ~1 ms, for tests that make
 * hundreds of password checks. Production cost is owaspArgon2Cost.
 */
export function createCheapHasher(): Promise<PasswordHasher> {
  return createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
}

/**
 * What a feed document says about one claim value, computed the way a verifier does (the feed
 * lists digests, never the value): `true` for a listed jti or sid, the cut-off time for a sub or
 * client_id, `undefined` when it is not listed.
 */
export function feedEntry(
  document: RevocationFeedDocument,
  kind: RevocationClaim,
  value: string,
): true | number | undefined {
  const digest = revocationDigest(kind, value);
  if (kind === 'jti' || kind === 'sid') {
    const packed = document.revoked[kind];
    for (let offset = 0; offset < packed.length; offset += digest.length)
      if (packed.slice(offset, offset + digest.length) === digest) return true;
    return undefined;
  }
  return document.revoked[kind][digest];
}
