import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  e2eResource,
  createClient,
  createUser,
  postForm,
  runAdmin,
  startService,
  waitFor,
  waitForReady,
  type RunningService,
} from './processes.js';

const baseUrl = process.env.TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;
const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;

/** Runs one statement on the server behind TEST_DATABASE_URL (creating and dropping test databases). */
async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  await client.query(statement).finally(() => client.end());
}

/**
 * The scale-out path as processes on loopback: two auth servers and two resource servers on one
 * PostgreSQL and one Redis. Tokens from either auth server verify at either resource server, a
 * refresh token issued by one is rotated at the other (and its reuse caught there), a key rotation
 * made with the CLI reaches all four, and rate limits are counted across both auth servers.
 */
(baseUrl === undefined || redisUrl === undefined ? describe.skip : describe)(
  'end to end: 2 auth servers and 2 resource servers on one PostgreSQL and one Redis',
  () => {
    const database = `tessera_e2e_${randomBytes(6).toString('hex')}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-replicas-'));
    const shared = { ISSUER: 'http://tessera-e2e.local', AUDIENCE: e2eResource };
    let authEnv: Record<string, string>;
    const auths: RunningService[] = [];
    const resources: RunningService[] = [];
    const client = { id: 'web', secret: '' };

    beforeAll(async () => {
      await admin(`create database ${database}`);
      const url = new URL(baseUrl!);
      url.pathname = `/${database}`;
      authEnv = {
        ...shared,
        DATA_DIR: dataDir,
        DATABASE_URL: url.toString(),
        KEY_ENCRYPTION_SECRET: 'replica-secret-replica-secret-replica-01',
        KEY_RELOAD_INTERVAL: '1s',
        JWKS_MAX_AGE: '1s',
        // No grace: any second presentation of a rotated refresh token is reuse.
        REFRESH_TOKEN_REUSE_GRACE: '0s',
        REDIS_URL: redisUrl!,
        REDIS_KEY_PREFIX: `${database}:`,
        // A per-client budget this test can exhaust; per-IP stays at its default (both replicas see 127.0.0.1).
        RATE_LIMIT_CLIENT: '200/1m',
        RATE_LIMIT_IP: '10000/1m',
      };
      // Started together: migrations and the first key race, and must not collide.
      auths.push(
        ...(await Promise.all([startService('auth-server', authEnv), startService('auth-server', authEnv)])),
      );
      ({ secret: client.secret } = await createClient(authEnv, {
        id: client.id,
        grants: 'password,refresh_token,client_credentials',
        scopes: 'a',
      }));
      await createUser(authEnv, { username: 'fay', password: 'fay-password', scopes: 'a' });
      for (const auth of auths) {
        resources.push(
          await startService('resource-server', {
            ...shared,
            JWKS_URI: `${auth.url}/.well-known/jwks.json`,
            REVOCATION_FEED_URI: `${auth.url}/oauth/revocations`,
          }),
        );
      }
      await Promise.all(resources.map((resource) => waitForReady(`${resource.url}/readyz`)));
    }, 60_000);

    afterAll(async () => {
      await Promise.all([...resources, ...auths].map((service) => service.stop()));
      rmSync(dataDir, { recursive: true, force: true });
      if (baseUrl !== undefined) await admin(`drop database if exists ${database} with (force)`);
    });

    const token = async (auth: RunningService, form: Record<string, string>) => {
      const res = await postForm(`${auth.url}/oauth/token`, client, form);
      expect(res.status).toBe(200);
      return (await res.json()) as { access_token: string; refresh_token?: string };
    };
    const status = async (resource: RunningService, accessToken: string) =>
      (await fetch(`${resource.url}/api/me`, { headers: { Authorization: `Bearer ${accessToken}` } })).status;

    it('both auth servers sign with the same single active key', async () => {
      const [a, b] = await Promise.all(
        auths.map((auth) => token(auth, { grant_type: 'client_credentials' })),
      );
      expect(kidOf(a!.access_token)).toBe(kidOf(b!.access_token));
      const listed = await runAdmin(['keys', 'list', '--json'], authEnv);
      expect(
        (JSON.parse(listed.stdout) as { state: string }[]).filter((key) => key.state === 'active'),
      ).toHaveLength(1);
    });

    it('a token issued by either auth server verifies at either resource server', async () => {
      for (const auth of auths) {
        const { access_token: accessToken } = await token(auth, {
          grant_type: 'password',
          username: 'fay',
          password: 'fay-password',
        });
        for (const resource of resources) expect(await status(resource, accessToken)).toBe(200);
      }
    });

    it('a refresh token issued by one auth server is rotated at the other, and its reuse is caught there too', async () => {
      const first = await token(auths[0]!, {
        grant_type: 'password',
        username: 'fay',
        password: 'fay-password',
      });
      const second = await token(auths[1]!, {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token!,
      });
      expect(second.refresh_token).toBeDefined();
      const third = await token(auths[0]!, {
        grant_type: 'refresh_token',
        refresh_token: second.refresh_token!,
      });
      expect(third.refresh_token).not.toBe(second.refresh_token);
      // Reusing the first token at the other replica is theft: the family is revoked everywhere.
      const reuse = await postForm(`${auths[1]!.url}/oauth/token`, client, {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token!,
      });
      expect(reuse.status).toBe(400);
      expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');
      const after = await postForm(`${auths[0]!.url}/oauth/token`, client, {
        grant_type: 'refresh_token',
        refresh_token: third.refresh_token!,
      });
      expect(after.status).toBe(400);
    });

    it('keys rotate (CLI) is picked up by both auth servers and both resource servers', async () => {
      const before = kidOf((await token(auths[0]!, { grant_type: 'client_credentials' })).access_token);
      const rotated = await runAdmin(['keys', 'rotate', '--force'], authEnv);
      expect(rotated.code).toBe(0);
      // Each auth server reloads within KEY_RELOAD_INTERVAL (1 s); poll for at most 10 s.
      for (const auth of auths) {
        const kid = await waitFor(
          async () => {
            const issued = kidOf((await token(auth, { grant_type: 'client_credentials' })).access_token);
            return issued !== before && issued;
          },
          { timeout: 10_000, what: `${auth.url} to sign with the new key` },
        );
        expect(kid).not.toBe(before);
        const { access_token: accessToken } = await token(auth, { grant_type: 'client_credentials' });
        for (const resource of resources) expect(await status(resource, accessToken)).toBe(200);
      }
    }, 30_000);
    it('rate limits are counted across both auth servers (one budget per client in Redis)', async () => {
      // The tests above spent some of the 200; spend the rest alternating replicas, then both refuse.
      // Were the budgets per process, about 400 requests would pass before both refused.
      const statuses: number[] = [];
      for (let i = 0; statuses.at(-1) !== 429 && i < 300; i++) {
        const res = await postForm(`${auths[i % 2]!.url}/oauth/token`, client, {
          grant_type: 'client_credentials',
        });
        statuses.push(res.status);
      }
      expect(statuses.at(-1)).toBe(429);
      expect(statuses.filter((status) => status === 200).length).toBeLessThan(200);
      for (const auth of auths) {
        const res = await postForm(`${auth.url}/oauth/token`, client, { grant_type: 'client_credentials' });
        expect(res.status).toBe(429);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    });
  },
);
