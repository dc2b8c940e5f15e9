import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger, createRevocationFeed } from '@tessera/shared';
import { openDatabase } from '../auth-server/src/storage/sql/database.js';
import {
  createClient,
  createE2eEnvironment,
  createUser,
  postForm,
  startService,
  waitFor,
  waitForReady,
  type RunningService,
} from './processes.js';

/**
 * Revocation reaching a stateless resource server: the resource server never calls the auth
 * server per request; it polls the revocation feed (here every second) and refuses what the
 * feed lists. Both services are real processes talking HTTP.
 */
describe('end to end: a revoked token is refused by the resource server within the feed interval', () => {
  const { dataDir, shared, authEnv } = createE2eEnvironment('revocation');
  const intervalMs = 1000;
  let auth: RunningService;
  let resource: RunningService;
  let webClient: { id: string; secret: string };

  const form = (path: string, body: Record<string, string>) =>
    postForm(`${auth.url}${path}`, webClient, body);
  const me = (token: string) =>
    fetch(`${resource.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  /** Polls /api/me until it answers 401, for at most `limitMs`; returns how long that took. */
  const msUntilRefused = async (token: string, limitMs: number): Promise<number> => {
    const started = Date.now();
    const refused = await waitFor(
      async () => {
        const res = await me(token);
        if (res.status === 401) return res;
        expect(res.status).toBe(200);
        return undefined;
      },
      { timeout: limitMs, interval: 50, what: 'the revoked token to be refused' },
    );
    expect(refused.headers.get('www-authenticate')).toMatch(
      /error="invalid_token", error_description="token revoked"/,
    );
    return Date.now() - started;
  };

  beforeAll(async () => {
    auth = await startService('auth-server', authEnv);
    webClient = await createClient(authEnv, {
      id: 'web',
      grants: 'password,refresh_token',
      scopes: 'notes:read',
    });
    await createUser(authEnv, { username: 'dana', password: 'dana-password', scopes: 'notes:read' });
    resource = await startService('resource-server', {
      ...shared,
      JWKS_URI: `${auth.url}/.well-known/jwks.json`,
      REVOCATION_FEED_URI: `${auth.url}/oauth/revocations`,
      REVOCATION_REFRESH_INTERVAL: `${intervalMs / 1000}s`,
    });
    await waitForReady(`${resource.url}/readyz`);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([resource?.stop(), auth?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const login = async () => {
    const res = await form('/oauth/token', {
      grant_type: 'password',
      username: 'dana',
      password: 'dana-password',
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token: string };
  };

  it('revoking an access token at the auth server: the resource server refuses it within the interval', async () => {
    const { access_token: token } = await login();
    expect((await me(token)).status).toBe(200);
    expect((await form('/oauth/revoke', { token, token_type_hint: 'access_token' })).status).toBe(200);
    const elapsed = await msUntilRefused(token, intervalMs + 2000);
    // One interval plus a feed request; recorded for the "measured" figure.
    process.stdout.write(
      `revoked access token refused after ${elapsed} ms (feed interval ${intervalMs} ms)\n`,
    );
    expect(elapsed).toBeLessThanOrEqual(intervalMs + 2000);
    // Another token of the same user is unaffected.
    expect((await me((await login()).access_token)).status).toBe(200);
  });

  it('revoking a refresh token revokes its family, and the access tokens minted from it are refused too', async () => {
    const first = await login();
    const refreshed = await form('/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
    });
    const second = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect((await me(second.access_token)).status).toBe(200);
    expect((await form('/oauth/revoke', { token: second.refresh_token })).status).toBe(200);
    await msUntilRefused(first.access_token, intervalMs + 2000);
    await msUntilRefused(second.access_token, intervalMs + 2000);
    const again = await form('/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: second.refresh_token,
    });
    expect(again.status).toBe(400);
  });

  it('the resource server reports the feed in readiness', async () => {
    const ready = (await (await fetch(`${resource.url}/readyz`)).json()) as {
      revocations: { loaded: boolean; entries: number };
    };
    expect(ready.revocations.loaded).toBe(true);
    expect(ready.revocations.entries).toBeGreaterThanOrEqual(2);
  });

  it('with the feed unreachable when a resource server starts: not ready (503) and 503 on protected routes, never fail-open', async () => {
    // A port that was just free: connection refused, as with a wrong REVOCATION_FEED_URI.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const cutOff = await startService('resource-server', {
      ...shared,
      JWKS_URI: `${auth.url}/.well-known/jwks.json`,
      REVOCATION_FEED_URI: `http://127.0.0.1:${port}/oauth/revocations`,
      REVOCATION_REFRESH_INTERVAL: '1s',
    });
    try {
      const { access_token: token } = await login();
      // Wait until the key set is in (its own readiness reason), so only the feed is missing.
      const ready = await waitFor(
        async () => {
          const res = await fetch(`${cutOff.url}/readyz`);
          const body = (await res.json()) as { reason?: string };
          return body.reason === 'revocation list not loaded yet' && { status: res.status, body };
        },
        { timeout: 10_000, what: 'the key set to load while the feed stays unreachable' },
      );
      expect(ready).toMatchObject({ status: 503, body: { reason: 'revocation list not loaded yet' } });
      const refused = await fetch(`${cutOff.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(await refused.json()).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'revocation list not loaded yet',
      });
      // The same token is accepted where the feed is reachable.
      expect((await me(token)).status).toBe(200);
    } finally {
      await cutOff.stop();
    }
  });

  it('with 100,000 revoked jtis in the feed, verifiers still load it and refuse what it lists', async () => {
    const count = 100_000;
    const db = openDatabase({ dialect: 'sqlite', file: join(dataDir, 'tessera.db') });
    try {
      const expiresAt = Math.floor(Date.now() / 1000) + 3600;
      const rows = Array.from({ length: count }, (_, i) => ({
        kind: 'jti',
        value: `bulk-${i}`,
        // Not the web client's: a single client could not add this many (its quota is 1,000).
        client_id: null,
        revoked_at: expiresAt - 3600,
        expires_at: expiresAt,
      }));
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows.length; i += 1000)
          await trx
            .insertInto('revocations')
            .values(rows.slice(i, i + 1000))
            .execute();
      });
    } finally {
      await db.destroy();
    }

    // The feed as the auth server serves it (it rebuilds its snapshot at most once a second, and
    // the rows were written behind its back), then one verifier loading it from scratch.
    const body = await waitFor(
      async () => {
        // A kept-alive socket the server just closed resets; the next attempt opens a new one.
        const res = await fetch(`${auth.url}/oauth/revocations`).catch(() => undefined);
        const served = res === undefined ? undefined : Buffer.from(await res.arrayBuffer());
        return served !== undefined && served.length >= count * 16 && served;
      },
      { timeout: 5000, what: 'the feed to list the rows written behind its back' },
    );
    const feed = createRevocationFeed({
      uri: `${auth.url}/oauth/revocations`,
      logger: createLogger({ name: 'e2e', level: 'silent' }),
    });
    const started = performance.now();
    await feed.start();
    const loadMs = Math.round(performance.now() - started);
    feed.stop();
    const status = feed.status();
    process.stdout.write(
      `feed with ${count} revoked jtis: ${body.length} bytes, loaded by a verifier in ${loadMs} ms (request, parse, index)\n`,
    );
    expect(status).toMatchObject({ loaded: true, usable: true, lastError: undefined });
    expect(status.entries).toBeGreaterThanOrEqual(count);
    expect(body.length).toBeGreaterThan(1024 * 1024); // past the old limit, which froze every verifier
    expect(feed.isRevoked({ jti: 'bulk-77777' })).toBe(true);

    // The running resource server takes it in too, and revocation still reaches it.
    await waitForReady(`${resource.url}/readyz`);
    const entries = await waitFor(
      async () => {
        const ready = (await (await fetch(`${resource.url}/readyz`)).json()) as {
          revocations: { entries: number };
        };
        return ready.revocations.entries >= count && ready.revocations.entries;
      },
      { timeout: 10_000, what: 'the resource server to take in the large feed' },
    );
    expect(entries).toBeGreaterThanOrEqual(count);
    const { access_token: token } = await login();
    expect((await me(token)).status).toBe(200);
    expect((await form('/oauth/revoke', { token })).status).toBe(200);
    await msUntilRefused(token, intervalMs + 5000);
  }, 60_000);
});
