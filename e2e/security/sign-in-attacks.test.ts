import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createUser, runAdmin } from '../processes.js';
import { audience, issuer, startSystem, type System } from './system.js';

/**
 * Attacks on browser sign-in against the real auth server process (RFC 9700 §4): redirect URI
 * tricks and open redirects, PKCE downgrade, code injection, mix-up (RFC 9207), CSRF, clickjacking,
 * and brute force through the sign-in page.
 */
const registered = 'https://app.example/cb';
const postLogout = 'https://app.example/bye';
const password = 'bob-password-123';

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A browser without a browser: a cookie jar over fetch, never following redirects. */
function userAgent(base: string) {
  const jar = new Map<string, string>();
  const send = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (jar.size > 0) headers.set('Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(new URL(path, base), { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  };
  return {
    get: (path: string) => send(path),
    post: (path: string, form: Record<string, string>) =>
      send(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      }),
  };
}

const hidden = (html: string, name: string) =>
  (new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '').replace(/&amp;/g, '&');

function authorizePath(params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries({
    response_type: 'code',
    client_id: 'spa',
    redirect_uri: registered,
    scope: 'openid notes:read',
    state: 'xyz',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...params,
  }))
    if (value !== undefined) query.set(name, value);
  return `/oauth/authorize?${query.toString()}`;
}

describe('attacks on browser sign-in', () => {
  let system: System;

  beforeAll(async () => {
    // Every attack comes from one address: a per-IP budget that does not get in their way.
    system = await startSystem({ resource: false, authEnv: { RATE_LIMIT_IP: '100000/1m' } });
    const client = (args: string[]) =>
      runAdmin(
        [
          'clients',
          'create',
          '--grants',
          'authorization_code,refresh_token',
          '--scopes',
          'notes:read',
          '--resources',
          audience,
          ...args,
        ],
        system.authEnv,
      );
    expect(
      (
        await client([
          '--client-id',
          'spa',
          '--public',
          '--redirect-uris',
          registered,
          '--post-logout-redirect-uris',
          postLogout,
        ])
      ).code,
    ).toBe(0);
    expect(
      (await client(['--client-id', 'other', '--public', '--redirect-uris', 'https://other.example/cb']))
        .code,
    ).toBe(0);
    await createUser(system.authEnv, { username: 'bob', password, scopes: 'notes:read' });
  }, 30_000);
  afterAll(() => system?.stop());

  /** Signs bob in as `spa` (allowing it) and returns the code and its verifier. */
  async function codeFor(clientId = 'spa', redirectUri = registered) {
    const { verifier, challenge } = pkce();
    const ua = userAgent(system.auth.url);
    const page = await (
      await ua.get(
        authorizePath({ client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge }),
      )
    ).text();
    let res = await ua.post('/oauth/authorize/sign-in', {
      csrf_token: hidden(page, 'csrf_token'),
      request: hidden(page, 'request'),
      username: 'bob',
      password,
    });
    if (res.status === 200) {
      const consent = await res.text();
      res = await ua.post('/oauth/authorize/consent', {
        csrf_token: hidden(consent, 'csrf_token'),
        request: hidden(consent, 'request'),
        decision: 'allow',
      });
    }
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    return { code: location.searchParams.get('code')!, verifier, location, ua };
  }

  const redeem = (form: Record<string, string>) =>
    system.tokenRequest(
      { grant_type: 'authorization_code', client_id: 'spa', redirect_uri: registered, ...form },
      {
        authorization: null,
      },
    );

  it.each([
    'https://app.example/cb/',
    'https://app.example/cb?x=1',
    'https://app.example/cb#frag',
    'https://app.example/CB',
    'https://APP.example/cb',
    'https://app.example:443/cb',
    'https://app.example.evil.example/cb',
    'https://evil.example/?https://app.example/cb',
    'https://app.example@evil.example/cb',
    'https://evil.example\\@app.example/cb',
    'https://app.example/cb/../../evil',
    'https://app.example%2F@evil.example/cb',
    '//evil.example/cb',
    'javascript:alert(1)//https://app.example/cb',
    'http://app.example/cb',
  ])('redirect_uri %s is refused on an error page, never redirected to', async (uri) => {
    const res = await fetch(`${system.auth.url}${authorizePath({ redirect_uri: uri })}`, {
      redirect: 'manual',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it.each([
    'https://evil.example/',
    'https://app.example/bye/',
    'https://app.example/bye?next=https://evil.example',
    '//evil.example',
    registered, // a redirect URI, not a post-logout one
  ])('logout never redirects to %s', async (uri) => {
    const res = await fetch(
      `${system.auth.url}/oauth/logout?${new URLSearchParams({ client_id: 'spa', post_logout_redirect_uri: uri }).toString()}`,
      { redirect: 'manual' },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('PKCE downgrade: no challenge, plain, a missing or wrong verifier are all refused', async () => {
    for (const params of [{ code_challenge: undefined }, { code_challenge_method: 'plain' }]) {
      const res = await fetch(`${system.auth.url}${authorizePath(params)}`, { redirect: 'manual' });
      const location = new URL(res.headers.get('location')!);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('code')).toBeNull();
    }
    const { code } = await codeFor();
    expect(await (await redeem({ code })).json()).toMatchObject({ error: 'invalid_request' });
    const wrong = await redeem({ code, code_verifier: pkce().verifier });
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('code injection: a code issued to one client is useless to another', async () => {
    const { code, verifier } = await codeFor();
    const res = await system.tokenRequest(
      {
        grant_type: 'authorization_code',
        client_id: 'other',
        code,
        redirect_uri: 'https://other.example/cb',
        code_verifier: verifier,
      },
      { authorization: null },
    );
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('mix-up (RFC 9207): every authorization response names this issuer', async () => {
    const { location } = await codeFor();
    expect(location.searchParams.get('iss')).toBe(issuer);
    expect(location.searchParams.get('state')).toBe('xyz');
    const error = await fetch(`${system.auth.url}${authorizePath({ response_type: 'token' })}`, {
      redirect: 'manual',
    });
    expect(new URL(error.headers.get('location')!).searchParams.get('iss')).toBe(issuer);
    const metadata = (await (
      await fetch(`${system.auth.url}/.well-known/oauth-authorization-server`)
    ).json()) as {
      authorization_response_iss_parameter_supported: boolean;
    };
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
  });

  it('CSRF: a sign-in or consent form posted from another site (no token, or no cookie) is refused', async () => {
    const ua = userAgent(system.auth.url);
    const page = await (await ua.get(authorizePath({}))).text();
    const form = { request: hidden(page, 'request'), username: 'bob', password };
    const noToken = await ua.post('/oauth/authorize/sign-in', form);
    expect(noToken.status).toBe(403);
    const noCookie = await fetch(`${system.auth.url}/oauth/authorize/sign-in`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://evil.example' },
      body: new URLSearchParams({ ...form, csrf_token: hidden(page, 'csrf_token') }),
      redirect: 'manual',
    });
    expect(noCookie.status).toBe(403);
    expect(noCookie.headers.getSetCookie().join()).not.toMatch(/tessera-session=/);
    const consent = await ua.post('/oauth/authorize/consent', { request: form.request, decision: 'allow' });
    expect(consent.status).toBe(403);
  });

  it('clickjacking: every page forbids framing and scripts', async () => {
    const ua = userAgent(system.auth.url);
    // prompt=consent: the consent page even though bob allowed spa before.
    const signIn = await ua.get(authorizePath({ prompt: 'consent' }));
    const html = await signIn.text();
    const consent = await ua.post('/oauth/authorize/sign-in', {
      csrf_token: hidden(html, 'csrf_token'),
      request: hidden(html, 'request'),
      username: 'bob',
      password,
    });
    const error = await ua.get(authorizePath({ client_id: 'nobody' }));
    const signedOut = await fetch(`${system.auth.url}/oauth/logout`);
    for (const res of [signIn, consent, error, signedOut]) {
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).not.toMatch(/unsafe-inline|script-src/);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('brute force: failures on the sign-in page lock the username for the password grant too', async () => {
    await createUser(system.authEnv, {
      username: 'carol',
      password: 'carol-password-1',
      scopes: 'notes:read',
    });
    const ua = userAgent(system.auth.url);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const page = await (await ua.get(authorizePath({}))).text();
      const res = await ua.post('/oauth/authorize/sign-in', {
        csrf_token: hidden(page, 'csrf_token'),
        request: hidden(page, 'request'),
        username: 'carol',
        password: `wrong-${i}`,
      });
      statuses.push(res.status);
      if (res.status === 429) expect(await res.text()).toContain('Too many failed attempts');
    }
    expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(statuses[5]).toBe(429);
    // The same lock holds at the token endpoint, even with the right password.
    const grant = await system.tokenRequest({
      grant_type: 'password',
      username: 'carol',
      password: 'carol-password-1',
    });
    expect(grant.status).toBe(429);
  });
});
