import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createClient,
  createE2eEnvironment,
  createUser,
  postForm,
  registerResource,
  runAdmin,
  startService,
  waitFor,
  waitForReady,
  type RunningService,
} from './processes.js';

const notes = 'http://notes.tessera-e2e.local';
const archive = 'http://archive.tessera-e2e.local';
const feedIntervalMs = 1000;

/**
 * Service A (the notes API) receives a user's token, and calls service B (the archive) on the
 * user's behalf with a token it gets by token exchange (RFC 8693): real processes, the exchange
 * over HTTP as the notes service's own client, B verifying against the JWKS and the feed.
 */
describe('end to end: service A calls service B for a user (token exchange)', () => {
  const { dataDir, shared, authEnv } = createE2eEnvironment('exchange');
  let auth: RunningService;
  let serviceA: RunningService;
  let serviceB: RunningService;
  let web: { id: string; secret: string };
  let notesService: { id: string; secret: string };
  let aliceId: string;

  beforeAll(async () => {
    auth = await startService('auth-server', authEnv);
    notesService = await createClient(authEnv, {
      id: 'notes-svc',
      grants: 'token_exchange',
      scopes: '',
      resources: '',
    });
    await registerResource(authEnv, {
      uri: notes,
      scopes: 'notes:read notes:write',
      serverClient: 'notes-svc',
    });
    await registerResource(authEnv, { uri: archive, scopes: 'notes:read' });
    // The notes service may call the archive; the web app may ask for the notes API only.
    expect(
      (
        await runAdmin(
          ['clients', 'set-resources', '--client-id', 'notes-svc', '--resources', archive],
          authEnv,
        )
      ).code,
    ).toBe(0);
    web = await createClient(authEnv, {
      id: 'web',
      grants: 'password,refresh_token',
      scopes: 'notes:read notes:write',
      resources: notes,
    });
    aliceId = await createUser(authEnv, {
      username: 'alice',
      password: 'alice-password',
      scopes: 'notes:read notes:write',
    });
    const backchannel = {
      JWKS_URI: `${auth.url}/.well-known/jwks.json`,
      REVOCATION_FEED_URI: `${auth.url}/oauth/revocations`,
      REVOCATION_REFRESH_INTERVAL: `${feedIntervalMs / 1000}s`,
    };
    [serviceA, serviceB] = await Promise.all([
      startService('resource-server', { ...shared, ...backchannel, AUDIENCE: notes }),
      startService('resource-server', {
        ...shared,
        ...backchannel,
        AUDIENCE: archive,
        SCOPES_SUPPORTED: 'notes:read',
      }),
    ]);
    await Promise.all([serviceA, serviceB].map((s) => waitForReady(`${s.url}/readyz`)));
  }, 60_000);

  afterAll(async () => {
    const codes = await Promise.all([serviceA?.stop(), serviceB?.stop(), auth?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    expect(codes).toEqual([0, 0, 0]);
  });

  const me = (service: RunningService, token: string) =>
    fetch(`${service.url}/api/me`, { headers: { Authorization: `Bearer ${token}` } });

  it('B sees the user and the actor; the user’s own token is refused at B; revoking the session reaches B', async () => {
    const login = await postForm(`${auth.url}/oauth/token`, web, {
      grant_type: 'password',
      username: 'alice',
      password: 'alice-password',
    });
    expect(login.status).toBe(200);
    const user = (await login.json()) as { access_token: string; refresh_token: string };
    // A accepts the user's token; B does not (it is for A).
    expect((await me(serviceA, user.access_token)).status).toBe(200);
    expect((await me(serviceB, user.access_token)).status).toBe(401);

    // A exchanges the token it received for one to B.
    const exchanged = await postForm(`${auth.url}/oauth/token`, notesService, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: user.access_token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      resource: archive,
    });
    expect(exchanged.status).toBe(200);
    const body = (await exchanged.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      scope: 'notes:read',
    });
    expect(body.refresh_token).toBeUndefined();
    const atB = await me(serviceB, body.access_token as string);
    expect(atB.status).toBe(200);
    expect(await atB.json()).toMatchObject({
      sub: aliceId,
      client_id: 'notes-svc',
      aud: archive,
      act: { sub: 'notes-svc' },
    });
    // The exchanged token is B's only: A refuses it.
    expect((await me(serviceA, body.access_token as string)).status).toBe(401);

    // The user's session is revoked (its refresh token): B refuses the exchanged token within a feed interval.
    const revoked = await postForm(`${auth.url}/oauth/revoke`, web, { token: user.refresh_token });
    expect(revoked.status).toBe(200);
    const started = Date.now();
    const status = await waitFor(
      async () => {
        const res = await me(serviceB, body.access_token as string);
        return res.status !== 200 && res.status;
      },
      { timeout: 10 * feedIntervalMs, what: 'B to refuse the exchanged token' },
    );
    expect(status).toBe(401);
    process.stdout.write(`exchanged token refused at B ${Date.now() - started} ms after the revocation\n`);
  }, 30_000);
});
