import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from '@jest/globals';
import { createKeyEncryptionKey } from '../../auth-server/src/keys/encryption.js';
import { openDatabase } from '../../auth-server/src/storage/sql/database.js';
import { createSqlStorage } from '../../auth-server/src/storage/sql/sql-storage.js';
import {
  e2eResource,
  createClient,
  createUser,
  startService,
  waitForReady,
  type RunningService,
} from '../processes.js';

export const issuer = 'http://tessera-security.local';
export const audience = e2eResource;
export const password = 'correct horse battery staple';

/** Both services as processes, a confidential client `web` and a user `alice`. */
export interface System {
  auth: RunningService;
  resource: RunningService;
  authEnv: Record<string, string>;
  clientSecret: string;
  /** POSTs a form to the auth server's token endpoint as client `web` (Basic). */
  tokenRequest(
    form: Record<string, string>,
    init?: { authorization?: string | null; query?: string },
  ): Promise<Response>;
  /** GET /api/me on the resource server with `Authorization: Bearer <token>`. */
  callApi(token: string): Promise<Response>;
  stop(): Promise<void>;
}

export async function startSystem(
  options: { authEnv?: Record<string, string>; resource?: boolean } = {},
): Promise<System> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-security-'));
  const authEnv = {
    ISSUER: issuer,
    AUDIENCE: audience,
    DATA_DIR: dataDir,
    KEY_ENCRYPTION_SECRET: 'security-suite-secret-security-suite-0123',
    ...options.authEnv,
  };
  const auth = await startService('auth-server', authEnv);
  const { secret: clientSecret } = await createClient(authEnv, {
    id: 'web',
    grants: 'password,client_credentials',
    scopes: 'notes:read',
  });
  await createUser(authEnv, { username: 'alice', password, scopes: 'notes:read' });
  const resource =
    options.resource === false
      ? undefined
      : await startService('resource-server', {
          ISSUER: issuer,
          AUDIENCE: audience,
          JWKS_URI: `${auth.url}/.well-known/jwks.json`,
          REVOCATION_FEED_URI: `${auth.url}/oauth/revocations`,
        });
  if (resource !== undefined) await waitForReady(`${resource.url}/readyz`);
  const basic = `Basic ${Buffer.from(`web:${clientSecret}`).toString('base64')}`;
  return {
    auth,
    get resource(): RunningService {
      if (resource === undefined) throw new Error('started without the resource server');
      return resource;
    },
    authEnv,
    clientSecret,
    tokenRequest(form, init = {}) {
      const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
      if (init.authorization !== null) headers.Authorization = init.authorization ?? basic;
      return fetch(`${auth.url}/oauth/token${init.query ?? ''}`, {
        method: 'POST',
        headers,
        body: new URLSearchParams(form),
      });
    },
    callApi(token) {
      if (resource === undefined) throw new Error('started without the resource server');
      return fetch(`${resource.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
    },
    async stop() {
      const codes = await Promise.all([resource?.stop(), auth.stop()]);
      rmSync(dataDir, { recursive: true, force: true });
      expect(codes.filter((code) => code !== undefined)).toEqual(resource === undefined ? [0] : [0, 0]);
    },
  };
}

/**
 * The auth server's active signing key, read from its database with the key-encryption secret
 * (what an insider holding both would have). The suite signs tokens with it that are valid in
 * every way but one, so each rejection is proven to come from that one check, not the signature.
 */
export async function readIssuerKey(
  authEnv: Record<string, string>,
): Promise<{ kid: string; privateKey: KeyObject }> {
  const storage = createSqlStorage(
    openDatabase({ dialect: 'sqlite', file: join(authEnv.DATA_DIR ?? '', 'tessera.db') }),
  );
  try {
    const active = (await storage.keys.list()).find((key) => key.state === 'active');
    if (active?.privateKeyEncrypted == null) throw new Error('no active key');
    const der = createKeyEncryptionKey(authEnv.KEY_ENCRYPTION_SECRET ?? '').decrypt(
      active.privateKeyEncrypted,
      active.kid,
    );
    return { kid: active.kid, privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
  } finally {
    await storage.close();
  }
}

/** A loopback HTTP listener that counts every request: proof that nothing was fetched from it. */
export async function startTrap(): Promise<{ url: string; hits(): number; close(): Promise<void> }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
