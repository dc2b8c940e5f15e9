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
 * The whole system across processes: the auth server and the resource server from their
 * built entry points on port 0, a client and a user made with the admin CLI, tokens over
 * real HTTP, verified by the resource server against the JWKS it fetched.
 */
describe('end to end: credentials in, RS256 token out, protected route verifies it', () => {
  const { dataDir, shared, authEnv } = createE2eEnvironment('route');
  let auth: RunningService;
  let resource: RunningService;
  let clientSecret: string;
  let userId: string;

  const token = async (form: Record<string, string>) => {
    const res = await postForm(`${auth.url}/oauth/token`, { id: 'web', secret: clientSecret }, form);
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };

  beforeAll(async () => {
    auth = await startService('auth-server', authEnv);
    ({ secret: clientSecret } = await createClient(authEnv, {
      id: 'web',
      grants: 'password,client_credentials',
      scopes: 'notes:read notes:write',
    }));
    userId = await createUser(authEnv, {
      username: 'alice',
      password: 'correct horse battery staple',
      scopes: 'notes:read',
    });
    resource = await startService('resource-server', {
      ...shared,
      JWKS_URI: `${auth.url}/.well-known/jwks.json`,
      REVOCATION_FEED_URI: `${auth.url}/oauth/revocations`,
    });
    await waitForReady(`${resource.url}/readyz`);
  }, 30_000);

  afterAll(async () => {
    const codes = await Promise.all([resource?.stop(), auth?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    // Both shut down cleanly on SIGTERM.
    expect(codes).toEqual([0, 0]);
  });

  it('a password-grant token is accepted and /api/me shows the verified claims', async () => {
    const accessToken = await token({
      grant_type: 'password',
      username: 'alice',
      password: 'correct horse battery staple',
    });
    const res = await fetch(`${resource.url}/api/me`, {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(JSON.stringify(body)).toContain(userId);
    expect(JSON.stringify(body)).toContain('notes:read');
  });

  it('a tampered token is refused with 401 invalid_token', async () => {
    const accessToken = await token({ grant_type: 'client_credentials' });
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
    const res = await fetch(`${resource.url}/api/me`, {
      headers: { Authorization: `Bearer ${header}.${forged}.${signature}` },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
  });

  it('a token without the route scope is refused with 403 insufficient_scope', async () => {
    const accessToken = await token({
      grant_type: 'password',
      username: 'alice',
      password: 'correct horse battery staple',
    });
    const res = await fetch(`${resource.url}/api/notes`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'hello' }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="notes:write"/);
    expect(((await res.json()) as { error: string }).error).toBe('insufficient_scope');
  });

  it('a token with the scope writes and reads its own notes', async () => {
    const accessToken = await token({ grant_type: 'client_credentials', scope: 'notes:read notes:write' });
    const headers = { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' };
    const created = await fetch(`${resource.url}/api/notes`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ text: 'hi' }),
    });
    expect(created.status).toBe(201);
    const listed = await fetch(`${resource.url}/api/notes`, { headers });
    expect(listed.status).toBe(200);
    expect(JSON.stringify(await listed.json())).toContain('"hi"');
  });

  it('each service serves /metrics on its own loopback listener (METRICS_PORT), not on its API port', async () => {
    for (const [service, name] of [
      [auth, 'auth-server'],
      [resource, 'resource-server'],
    ] as const) {
      expect((await fetch(`${service.url}/metrics`)).status).toBe(404);
      const scrape = await fetch(`${service.metricsUrl}/metrics`);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toMatch(
        new RegExp(`^process_cpu_seconds_total\\{service="${name}"\\} `, 'm'),
      );
      expect(service.output.join('\n')).toContain(`"metricsHost":"127.0.0.1"`);
      expect(service.metricsUrl).not.toBe(service.url);
    }
  });
});
