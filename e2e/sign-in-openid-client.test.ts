import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import {
  createE2eEnvironment,
  e2eResource,
  registerResource,
  createUser,
  runAdmin,
  startAuthServerAtItsIssuer,
  startService,
  waitFor,
  waitForReady,
  type RunningService,
} from './processes.js';

const redirectUri = 'http://127.0.0.1:8765/callback';
const postLogoutRedirectUri = 'http://127.0.0.1:8765/signed-out';

/**
 * A user agent without a browser: follows the authorization URL, fills in the sign-in form
 * (keeping the cookies it is given) and returns the URL the server sends it back to.
 */
async function signInThroughPages(
  authorizationUrl: URL,
  credentials: { username: string; password: string },
): Promise<{ callback: URL; cookies: string }> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  };
  const cookieHeader = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  expect(page.status).toBe(200);
  keep(page);
  const html = await page.text();
  const field = (name: string) =>
    (new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '').replace(/&amp;/g, '&');
  const action = new URL(/<form method="post" action="([^"]+)"/.exec(html)?.[1] ?? '', authorizationUrl);
  const res = await fetch(action, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookieHeader() },
    body: new URLSearchParams({
      csrf_token: field('csrf_token'),
      request: field('request'),
      ...credentials,
    }),
  });
  expect(res.status).toBe(303);
  keep(res);
  return { callback: new URL(res.headers.get('location') ?? ''), cookies: cookieHeader() };
}

/**
 * The certified relying-party library against the real auth and resource servers: discovery,
 * PKCE, the code exchange with ID token validation (iss, aud, nonce, signature from the JWKS),
 * userinfo, refresh and RP-initiated logout, for a public client registered with the admin CLI.
 */
describe('end to end: an OpenID Connect client (openid-client) signs a user in', () => {
  const { dataDir, shared, authEnv } = createE2eEnvironment('oidc');
  let auth: RunningService;
  let resource: RunningService;
  let env: Record<string, string>;
  let config: oidc.Configuration;
  let userId: string;

  beforeAll(async () => {
    // No reuse grace: presenting a rotated-away refresh token is at once a reuse.
    ({ auth, env } = await startAuthServerAtItsIssuer({ ...authEnv, REFRESH_TOKEN_REUSE_GRACE: '0s' }));
    await registerResource(env, { uri: e2eResource, scopes: 'notes:read' });
    const registered = await runAdmin(
      [
        'clients',
        'create',
        '--client-id',
        'notes-web',
        '--grants',
        'authorization_code,refresh_token',
        '--scopes',
        'notes:read',
        '--public',
        '--first-party',
        '--resources',
        e2eResource,
        '--redirect-uris',
        redirectUri,
        '--post-logout-redirect-uris',
        postLogoutRedirectUri,
      ],
      env,
    );
    expect(registered.code).toBe(0);
    userId = await createUser(env, {
      username: 'ana',
      password: 'correct horse battery',
      scopes: 'notes:read',
    });
    resource = await startService('resource-server', {
      ...shared,
      ISSUER: env.ISSUER!,
      JWKS_URI: `${auth.url}/.well-known/jwks.json`,
      REVOCATION_FEED_URI: `${auth.url}/oauth/revocations`,
      REVOCATION_REFRESH_INTERVAL: '1s',
    });
    await waitForReady(`${resource.url}/readyz`);
    config = await oidc.discovery(new URL(env.ISSUER!), 'notes-web', undefined, oidc.None(), {
      // The test issuer is plain http on loopback.
      execute: [oidc.allowInsecureRequests],
    });
  }, 30_000);

  afterAll(async () => {
    const codes = await Promise.all([resource?.stop(), auth?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    expect(codes).toEqual([0, 0]);
  });

  async function signIn(scope = 'openid profile notes:read') {
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const { callback, cookies } = await signInThroughPages(url, {
      username: 'ana',
      password: 'correct horse battery',
    });
    return { callback, cookies, codeVerifier, state, nonce };
  }

  it('discovers the server, exchanges a PKCE code, validates the ID token, reads userinfo, refreshes', async () => {
    expect(config.serverMetadata()).toMatchObject({
      issuer: env.ISSUER,
      authorization_endpoint: `${env.ISSUER}/oauth/authorize`,
      code_challenge_methods_supported: ['S256'],
    });
    const { callback, codeVerifier, state, nonce } = await signIn();
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: env.ISSUER,
      sub: userId,
      aud: 'notes-web',
      nonce,
      preferred_username: 'ana',
    });
    expect(typeof claims.sid).toBe('string');
    expect(typeof claims.auth_time).toBe('number');

    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId);
    expect(info).toEqual({ sub: userId, preferred_username: 'ana' });

    // The access token works at the resource server; the ID token does not (typ is not at+jwt).
    const api = await fetch(`${resource.url}/api/me`, {
      headers: { Authorization: `Bearer ${tokens.access_token}` },
    });
    expect(api.status).toBe(200);
    const withIdToken = await fetch(`${resource.url}/api/me`, {
      headers: { Authorization: `Bearer ${tokens.id_token}` },
    });
    expect(withIdToken.status).toBe(401);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(await oidc.fetchUserInfo(config, refreshed.access_token, userId)).toMatchObject({ sub: userId });
    // The rotated-away refresh token is refused (rotation with reuse detection).
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toThrow();
  });

  it('refuses an authorization response from another issuer (mix-up, RFC 9207)', async () => {
    const { callback, codeVerifier, state } = await signIn('openid');
    callback.searchParams.set('iss', 'https://attacker.example');
    await expect(
      oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, expectedState: state }),
    ).rejects.toThrow();
  });

  it('a replayed code is refused and revokes the tokens the first exchange issued', async () => {
    const { callback, codeVerifier, state, nonce } = await signIn();
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    await expect(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: codeVerifier,
        expectedState: state,
        expectedNonce: nonce,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // The resource server learns of it from the revocation feed.
    const status = await waitFor(
      async () => {
        const res = await fetch(`${resource.url}/api/me`, {
          headers: { Authorization: `Bearer ${tokens.access_token}` },
        });
        return res.status !== 200 && res.status;
      },
      { timeout: 5000, what: 'the resource server to refuse the revoked token' },
    );
    expect(status).toBe(401);
  }, 15_000);

  it('RP-initiated logout returns to the registered URI and ends the browser session', async () => {
    const { callback, cookies, codeVerifier, state, nonce } = await signIn();
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const logoutUrl = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: postLogoutRedirectUri,
      state: 'bye',
    });
    const res = await fetch(logoutUrl, { redirect: 'manual', headers: { Cookie: cookies } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${postLogoutRedirectUri}?state=bye`);
    // The old cookie no longer signs anyone in: prompt=none says login_required.
    const again = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      prompt: 'none',
    });
    const silent = await fetch(again, { redirect: 'manual', headers: { Cookie: cookies } });
    expect(new URL(silent.headers.get('location') ?? '').searchParams.get('error')).toBe('login_required');
  });
});
