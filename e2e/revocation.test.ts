import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createClient,
  createE2eEnvironment,
  createUser,
  postForm,
  startService,
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
    while (Date.now() - started < limitMs) {
      const res = await me(token);
      if (res.status === 401) {
        expect(res.headers.get('www-authenticate')).toMatch(
          /error="invalid_token", error_description="token revoked"/,
        );
        return Date.now() - started;
      }
      expect(res.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`still accepted after ${limitMs} ms`);
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
});
