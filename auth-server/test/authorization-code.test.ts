import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request, { type Response } from 'supertest';
import { testDialects, type TestDatabase } from './dialects.js';
import { createTestAuth, decodeClaims, testResource, type TestAuth } from './helpers.js';

const redirectUri = 'http://127.0.0.1:9000/callback';
const postLogoutUri = 'http://127.0.0.1:9000/bye';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A hidden or text field's value in a page. */
function field(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (match?.[1] === undefined) throw new Error(`no field ${name} in page:\n${html}`);
  return match[1]
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

function authorizeQuery(overrides: Record<string, string | undefined> = {}, challenge = pkce().challenge) {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: 'spa',
    redirect_uri: redirectUri,
    scope: 'openid profile notes:read',
    state: 'state-123',
    nonce: 'nonce-456',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.set(name, value);
  return `/oauth/authorize?${query.toString()}`;
}

type Agent = ReturnType<typeof request.agent>;

describe('authorization code flow with PKCE and OpenID Connect', () => {
  let auth: TestAuth;
  let webSecret: string;
  let userId: string;

  beforeAll(async () => {
    // Many sign-ins from one address: the per-IP budget is tested on its own below.
    auth = await createTestAuth({ RATE_LIMIT_IP: '100000/1m' });
    const user = await auth.services.users.create({
      username: 'ana',
      password: 'correct horse battery',
      scopes: 'notes:read notes:write',
    });
    userId = user.id;
    await auth.services.clients.create({
      clientId: 'spa',
      grants: 'authorization_code,refresh_token',
      scopes: 'notes:read',
      isPublic: true,
      resources: testResource,
      redirectUris: `${redirectUri},com.example.app:/cb`,
      postLogoutRedirectUris: postLogoutUri,
    });
    const web = await auth.services.clients.create({
      clientId: 'web',
      grants: 'authorization_code',
      scopes: 'notes:read',
      isPublic: false,
      resources: testResource,
      redirectUris: 'https://web.example/cb',
      firstParty: true,
    });
    webSecret = web.secret ?? '';
  });
  afterAll(() => auth.close());

  async function signIn(agent: Agent, url: string, password = 'correct horse battery'): Promise<Response> {
    const page = await agent.get(url);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Sign in');
    return agent
      .post('/oauth/authorize/sign-in')
      .type('form')
      .send({
        csrf_token: field(page.text, 'csrf_token'),
        request: field(page.text, 'request'),
        username: 'ana',
        password,
      });
  }

  async function allow(agent: Agent, consentPage: Response): Promise<URL> {
    expect(consentPage.status).toBe(200);
    expect(consentPage.text).toContain('Allow');
    const res = await agent
      .post('/oauth/authorize/consent')
      .type('form')
      .send({
        csrf_token: field(consentPage.text, 'csrf_token'),
        request: field(consentPage.text, 'request'),
        decision: 'allow',
      });
    expect(res.status).toBe(303);
    return new URL(res.headers.location as string);
  }

  const exchange = (code: string, verifier: string, extra: Record<string, string> = {}) =>
    request(auth.app)
      .post('/oauth/token')
      .type('form')
      .send({
        grant_type: 'authorization_code',
        client_id: 'spa',
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
        ...extra,
      });

  it('signs in, asks consent, redirects with code, state and iss; the code gives tokens, an ID token and userinfo', async () => {
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    const page = await agent.get(authorizeQuery({}, challenge));
    // The pages: no script, no framing, no caching; form posts only here and to the client.
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(page.headers['content-security-policy']).toContain("form-action 'self' http://127.0.0.1:9000");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toMatch(/<label for="username">/);
    expect(page.text).not.toMatch(/<script/i);
    const consent = await agent
      .post('/oauth/authorize/sign-in')
      .type('form')
      .send({
        csrf_token: field(page.text, 'csrf_token'),
        request: field(page.text, 'request'),
        username: 'ana',
        password: 'correct horse battery',
      });
    const cookie = String(consent.headers['set-cookie']);
    expect(cookie).toMatch(/tessera-session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax/);
    expect(consent.text).toContain('notes:read');
    const back = await allow(agent, consent);
    expect(back.origin + back.pathname).toBe(redirectUri);
    expect(back.searchParams.get('state')).toBe('state-123');
    expect(back.searchParams.get('iss')).toBe('http://auth.test');
    const code = back.searchParams.get('code') ?? '';

    const res = await exchange(code, verifier);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.body as Record<string, string>;
    expect(body.scope).toBe('openid profile notes:read');
    const idHeader = JSON.parse(Buffer.from(body.id_token!.split('.')[0]!, 'base64url').toString()) as {
      typ: string;
    };
    expect(idHeader.typ).toBe('JWT');
    const id = decodeClaims<Record<string, unknown>>(body.id_token!);
    expect(id).toMatchObject({
      iss: 'http://auth.test',
      sub: userId,
      aud: 'spa',
      nonce: 'nonce-456',
      preferred_username: 'ana',
    });
    expect(typeof id.sid).toBe('string');
    expect(typeof id.auth_time).toBe('number');
    const access = decodeClaims<{ aud: string[]; sid: string }>(body.access_token!);
    expect(access.aud).toEqual([testResource, 'http://auth.test/oauth/userinfo']);

    const info = await request(auth.app)
      .get('/oauth/userinfo')
      .set('Authorization', `Bearer ${body.access_token}`);
    expect(info.status).toBe(200);
    expect(info.body).toEqual({ sub: userId, preferred_username: 'ana' });
    // The ID token is no access token.
    const withId = await request(auth.app)
      .get('/oauth/userinfo')
      .set('Authorization', `Bearer ${body.id_token}`);
    expect(withId.status).toBe(401);

    // Refresh keeps the openid scope, so userinfo still answers.
    const refreshed = await request(auth.app)
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', client_id: 'spa', refresh_token: body.refresh_token });
    expect(refreshed.status).toBe(200);
    expect((refreshed.body as { scope: string }).scope).toBe('openid profile notes:read');

    // Consent is remembered: the next request goes straight back with a code.
    const again = await agent.get(authorizeQuery());
    expect(again.status).toBe(303);
    expect(new URL(again.headers.location as string).searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // Nothing secret reached the logs: not the password, the code, the verifier or any token.
    const logged = auth.lines.join('\n');
    for (const secret of [
      'correct horse battery',
      code,
      verifier,
      body.access_token!,
      body.refresh_token!,
      body.id_token!,
      /tessera-session=([A-Za-z0-9_-]{43})/.exec(cookie)![1]!,
    ])
      expect(logged).not.toContain(secret);
    expect(logged).toContain('authorization_code.issued');
  });

  it('a replayed code fails and revokes every token issued from it', async () => {
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    const back = await allow(agent, await signIn(agent, authorizeQuery({ prompt: 'consent' }, challenge)));
    const code = back.searchParams.get('code') ?? '';
    const first = await exchange(code, verifier);
    expect(first.status).toBe(200);
    const second = await exchange(code, verifier);
    expect(second.status).toBe(400);
    expect(second.body).toMatchObject({ error: 'invalid_grant' });
    const { access_token, refresh_token } = first.body as Record<string, string>;
    const refresh = await request(auth.app)
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', client_id: 'spa', refresh_token });
    expect(refresh.status).toBe(400);
    expect(await auth.services.revocations.isRevoked(decodeClaims(access_token!))).toBe(true);
  });

  it('the code is bound to its verifier, redirect URI and client (PKCE downgrade, code injection)', async () => {
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    // Consent remembered from the first test: straight to the code.
    await signIn(agent, authorizeQuery({}, challenge)).then(async (res) => {
      const url = res.status === 303 ? new URL(res.headers.location as string) : await allow(agent, res);
      const code = url.searchParams.get('code') ?? '';
      const noVerifier = await request(auth.app)
        .post('/oauth/token')
        .type('form')
        .send({ grant_type: 'authorization_code', client_id: 'spa', code, redirect_uri: redirectUri });
      expect(noVerifier.body).toMatchObject({ error: 'invalid_request' });
      // Another client cannot redeem (or burn) it.
      const injected = await request(auth.app).post('/oauth/token').auth('web', webSecret).type('form').send({
        grant_type: 'authorization_code',
        code,
        redirect_uri: 'https://web.example/cb',
        code_verifier: verifier,
      });
      expect(injected.body).toMatchObject({ error: 'invalid_grant' });
      // RFC 6749 §4.1.3: the code is the authenticated client's; the injection did not use it up.
      const redeemed = await exchange(code, verifier);
      expect(redeemed.status).toBe(200);
    });
    const third = pkce();
    const thirdCode =
      new URL(
        (await agent.get(authorizeQuery({}, third.challenge))).headers.location as string,
      ).searchParams.get('code') ?? '';
    const wrongVerifier = await exchange(thirdCode, pkce().verifier);
    expect(wrongVerifier.body).toMatchObject({ error: 'invalid_grant' });
    const other = pkce();
    const res = await agent.get(authorizeQuery({}, other.challenge));
    const code = new URL(res.headers.location as string).searchParams.get('code') ?? '';
    const wrongRedirect = await exchange(code, other.verifier, { redirect_uri: 'com.example.app:/cb' });
    expect(wrongRedirect.body).toMatchObject({ error: 'invalid_grant' });
  });

  it('an expired code is refused', async () => {
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    const res = await signIn(agent, authorizeQuery({}, challenge));
    const code = new URL(res.headers.location as string).searchParams.get('code') ?? '';
    auth.clock.advance(61_000);
    try {
      expect((await exchange(code, verifier)).body).toMatchObject({ error: 'invalid_grant' });
    } finally {
      auth.clock.advance(-61_000);
    }
  });

  it.each([
    ['an unregistered URI', 'https://evil.example/callback'],
    ['a prefix of a registered one', 'http://127.0.0.1:9000/'],
    ['a longer path', `${redirectUri}/../../evil`],
    ['another port with another path', 'http://127.0.0.1:9001/callback/'],
    ['another loopback host', 'http://[::1]:9000/callback'],
    ['localhost for the loopback IP', 'http://localhost:9000/callback'],
    ['a trailing slash', `${redirectUri}/`],
    ['an added query', `${redirectUri}?next=https://evil.example`],
    ['a case change', redirectUri.toUpperCase()],
    ['user info', 'http://evil.example@127.0.0.1:9000/callback'],
  ])('never redirects to %s: an error page instead', async (_name, uri) => {
    const res = await request(auth.app).get(authorizeQuery({ redirect_uri: uri }));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain('not registered');
  });

  it('a loopback redirect URI may name any port (RFC 8252 §7.3); the token request must repeat it', async () => {
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    const ephemeral = 'http://127.0.0.1:53117/callback';
    const back = await allow(
      agent,
      await signIn(agent, authorizeQuery({ redirect_uri: ephemeral, prompt: 'consent' }, challenge)),
    );
    expect(back.origin).toBe('http://127.0.0.1:53117');
    expect(back.pathname).toBe('/callback');
    const code = back.searchParams.get('code') ?? '';
    // RFC 6749 §4.1.3: identical to the authorization request's, not the registered one.
    const registeredPort = await exchange(code, verifier);
    expect(registeredPort.body).toMatchObject({ error: 'invalid_grant' });
    const other = pkce();
    const again = await agent.get(authorizeQuery({ redirect_uri: ephemeral }, other.challenge));
    const second = new URL(again.headers.location as string);
    expect(second.origin).toBe('http://127.0.0.1:53117');
    const redeemed = await exchange(second.searchParams.get('code') ?? '', other.verifier, {
      redirect_uri: ephemeral,
    });
    expect(redeemed.status).toBe(200);
  });

  it('an OpenID Connect request ignores the standard scopes it does not serve (Core §3.1.2.1, §5.4)', async () => {
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    const scope = 'openid profile email address phone offline_access notes:read';
    const page = await signIn(agent, authorizeQuery({ scope, prompt: 'consent' }, challenge));
    const back = page.status === 303 ? new URL(page.headers.location as string) : await allow(agent, page);
    expect(back.searchParams.get('error')).toBeNull();
    const res = await exchange(back.searchParams.get('code') ?? '', verifier);
    expect(res.status).toBe(200);
    expect((res.body as { scope: string }).scope.split(' ').sort()).toEqual([
      'notes:read',
      'openid',
      'profile',
    ]);
  });

  it('a client with no resource signs people in and refreshes its openid tokens', async () => {
    await auth.services.clients.create({
      clientId: 'rp-only',
      grants: 'authorization_code,refresh_token',
      scopes: '',
      isPublic: true,
      resources: '',
      redirectUris: redirectUri,
      firstParty: true,
    });
    // Without openid its code would give a token for nothing: refused up front, not at the token endpoint.
    const nothing = await request(auth.app).get(authorizeQuery({ client_id: 'rp-only', scope: 'profile' }));
    expect(new URL(nothing.headers.location as string).searchParams.get('error')).toBe('invalid_scope');
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    const back = await signIn(
      agent,
      authorizeQuery({ client_id: 'rp-only', scope: 'openid profile' }, challenge),
    );
    const code = new URL(back.headers.location as string).searchParams.get('code') ?? '';
    const first = await exchange(code, verifier, { client_id: 'rp-only' });
    expect(first.status).toBe(200);
    const refresh = (form: Record<string, string>) =>
      request(auth.app)
        .post('/oauth/token')
        .type('form')
        .send({ grant_type: 'refresh_token', client_id: 'rp-only', ...form });
    const refreshed = await refresh({ refresh_token: first.body.refresh_token as string });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ scope: 'openid profile' });
    const { aud } = decodeClaims<{ aud: string | string[] }>(refreshed.body.access_token as string);
    expect([aud].flat()).toEqual(['http://auth.test/oauth/userinfo']);
    // Narrowed to no OpenID scope, the token would be for nothing: refused, not a server error.
    const narrowed = await refresh({
      refresh_token: refreshed.body.refresh_token as string,
      scope: 'profile',
    });
    expect(narrowed.status).toBe(400);
    expect(narrowed.body).toMatchObject({ error: 'invalid_target' });
  });

  it('an unknown client gets an error page, not a redirect', async () => {
    const res = await request(auth.app).get(authorizeQuery({ client_id: 'nobody' }));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  it.each([
    [{ code_challenge: undefined }, 'invalid_request'],
    [{ code_challenge_method: 'plain' }, 'invalid_request'],
    [{ code_challenge_method: undefined }, 'invalid_request'],
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ scope: 'notes:write' }, 'invalid_scope'],
    // Outside an OpenID Connect request, email is a scope like any other.
    [{ scope: 'email notes:read' }, 'invalid_scope'],
    [{ prompt: 'none login' }, 'invalid_request'],
    [{ request: 'eyJ' }, 'request_not_supported'],
  ] as [Record<string, string | undefined>, string][])(
    'redirects %j back with error %s, state and iss',
    async (overrides, error) => {
      const res = await request(auth.app).get(authorizeQuery(overrides));
      expect(res.status).toBe(303);
      const url = new URL(res.headers.location as string);
      expect(url.origin + url.pathname).toBe(redirectUri);
      expect(url.searchParams.get('error')).toBe(error);
      expect(url.searchParams.get('state')).toBe('state-123');
      expect(url.searchParams.get('iss')).toBe('http://auth.test');
      expect(url.searchParams.get('code')).toBeNull();
    },
  );

  it('the request may come as a form post, checked the same way', async () => {
    const body = new URL(authorizeQuery(), 'http://x').searchParams.toString();
    const page = await request(auth.app).post('/oauth/authorize').type('form').send(body);
    expect(page.status).toBe(200);
    expect(page.text).toContain('name="password"');
    const evil = await request(auth.app)
      .post('/oauth/authorize')
      .type('form')
      .send(
        new URL(
          authorizeQuery({ redirect_uri: 'https://evil.example/cb' }),
          'http://x',
        ).searchParams.toString(),
      );
    expect(evil.status).toBe(400);
    expect(evil.headers.location).toBeUndefined();
    const repeated = await request(auth.app)
      .post('/oauth/authorize')
      .type('form')
      .send(`${body}&state=again`);
    expect(new URL(repeated.headers.location as string).searchParams.get('error')).toBe('invalid_request');
  });

  it('a repeated parameter is refused', async () => {
    const res = await request(auth.app).get(`${authorizeQuery()}&scope=openid`);
    expect(new URL(res.headers.location as string).searchParams.get('error')).toBe('invalid_request');
  });

  it('prompt=none without a session is login_required; with a session but no consent, consent_required', async () => {
    const res = await request(auth.app).get(authorizeQuery({ prompt: 'none' }));
    expect(new URL(res.headers.location as string).searchParams.get('error')).toBe('login_required');
    await auth.services.users.create({ username: 'bo', password: 'another password', scopes: 'notes:read' });
    const agent = request.agent(auth.app);
    const page = await agent.get(authorizeQuery());
    await agent
      .post('/oauth/authorize/sign-in')
      .type('form')
      .send({
        csrf_token: field(page.text, 'csrf_token'),
        request: field(page.text, 'request'),
        username: 'bo',
        password: 'another password',
      });
    const none = await agent.get(authorizeQuery({ prompt: 'none' }));
    expect(new URL(none.headers.location as string).searchParams.get('error')).toBe('consent_required');
    // prompt=login shows the sign-in page even with a session.
    const login = await agent.get(authorizeQuery({ prompt: 'login' }));
    expect(login.status).toBe(200);
    expect(login.text).toContain('name="password"');
  });

  it('wrong password and unknown user get the same generic message', async () => {
    const agent = request.agent(auth.app);
    const wrong = await signIn(agent, authorizeQuery(), 'wrong password!');
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain('The username or password is wrong.');
    expect(wrong.headers['set-cookie'] ?? '').not.toMatch(/tessera-session=[A-Za-z0-9]/);
    const page = await agent.get(authorizeQuery());
    const unknown = await agent
      .post('/oauth/authorize/sign-in')
      .type('form')
      .send({
        csrf_token: field(page.text, 'csrf_token'),
        request: field(page.text, 'request'),
        username: 'nobody',
        password: 'whatever123',
      });
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('The username or password is wrong.');
  });

  it('refuses a form without its CSRF token, or with another browser’s', async () => {
    const agent = request.agent(auth.app);
    const page = await agent.get(authorizeQuery());
    const form = {
      request: field(page.text, 'request'),
      username: 'ana',
      password: 'correct horse battery',
    };
    const missing = await agent.post('/oauth/authorize/sign-in').type('form').send(form);
    expect(missing.status).toBe(403);
    expect(missing.headers['set-cookie'] ?? '').not.toMatch(/tessera-session=[A-Za-z0-9]/);
    // A token taken from another browser's page does not fit this browser's cookie.
    const elsewhere = await request.agent(auth.app).get(authorizeQuery());
    const foreign = await agent
      .post('/oauth/authorize/sign-in')
      .type('form')
      .send({ ...form, csrf_token: field(elsewhere.text, 'csrf_token') });
    expect(foreign.status).toBe(403);
    // No cookie at all (a cross-site form post from an attacker's page).
    const bare = await request(auth.app)
      .post('/oauth/authorize/sign-in')
      .type('form')
      .send({ ...form, csrf_token: field(page.text, 'csrf_token') });
    expect(bare.status).toBe(403);
  });

  it('a first-party client skips consent; a confidential client redeems with its secret', async () => {
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    const res = await signIn(
      agent,
      authorizeQuery(
        { client_id: 'web', redirect_uri: 'https://web.example/cb', scope: 'notes:read' },
        challenge,
      ),
    );
    expect(res.status).toBe(303);
    const url = new URL(res.headers.location as string);
    expect(url.origin).toBe('https://web.example');
    const token = await request(auth.app)
      .post('/oauth/token')
      .auth('web', webSecret)
      .type('form')
      .send({
        grant_type: 'authorization_code',
        code: url.searchParams.get('code'),
        redirect_uri: 'https://web.example/cb',
        code_verifier: verifier,
      });
    expect(token.status).toBe(200);
    expect(token.body).not.toHaveProperty('id_token');
    expect(token.body).not.toHaveProperty('refresh_token');
  });

  it('denying consent redirects with access_denied', async () => {
    const agent = request.agent(auth.app);
    const consent = await signIn(agent, authorizeQuery({ prompt: 'consent' }));
    const res = await agent
      .post('/oauth/authorize/consent')
      .type('form')
      .send({
        csrf_token: field(consent.text, 'csrf_token'),
        request: field(consent.text, 'request'),
        decision: 'deny',
      });
    expect(new URL(res.headers.location as string).searchParams.get('error')).toBe('access_denied');
  });

  it('RP-initiated logout ends the session and returns only to a registered URI', async () => {
    const agent = request.agent(auth.app);
    const { verifier, challenge } = pkce();
    const res = await signIn(agent, authorizeQuery({}, challenge));
    const code = new URL(res.headers.location as string).searchParams.get('code') ?? '';
    const { id_token } = (await exchange(code, verifier)).body as { id_token: string };

    const evil = await agent.get(
      `/oauth/logout?${new URLSearchParams({ id_token_hint: id_token, post_logout_redirect_uri: 'https://evil.example/' }).toString()}`,
    );
    expect(evil.status).toBe(400);
    expect(evil.headers.location).toBeUndefined();

    const out = await agent.get(
      `/oauth/logout?${new URLSearchParams({ id_token_hint: id_token, post_logout_redirect_uri: postLogoutUri, state: 's1' }).toString()}`,
    );
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe(`${postLogoutUri}?state=s1`);
    // Signed out: the next authorization request asks for the password again.
    const next = await agent.get(authorizeQuery());
    expect(next.status).toBe(200);
    expect(next.text).toContain('name="password"');
  });

  it('logout without an id_token_hint asks the user to confirm', async () => {
    const agent = request.agent(auth.app);
    await signIn(agent, authorizeQuery());
    const ask = await agent.get('/oauth/logout');
    expect(ask.status).toBe(200);
    expect(ask.text).toContain('Sign out?');
    const forged = await agent.post('/oauth/logout').type('form').send({});
    expect(forged.text).toContain('Sign out?');
    const done = await agent
      .post('/oauth/logout')
      .type('form')
      .send({ csrf_token: field(ask.text, 'csrf_token') });
    expect(done.status).toBe(200);
    expect(done.text).toContain('You are signed out');
  });

  it('disabling a user ends their browser sessions', async () => {
    await auth.services.users.create({ username: 'cy', password: 'password of cy', scopes: 'notes:read' });
    const agent = request.agent(auth.app);
    const page = await agent.get(
      authorizeQuery({ client_id: 'web', redirect_uri: 'https://web.example/cb', scope: 'notes:read' }),
    );
    const signedIn = await agent
      .post('/oauth/authorize/sign-in')
      .type('form')
      .send({
        csrf_token: field(page.text, 'csrf_token'),
        request: field(page.text, 'request'),
        username: 'cy',
        password: 'password of cy',
      });
    expect(signedIn.status).toBe(303);
    await auth.services.users.disable('cy');
    const after = await agent.get(
      authorizeQuery({ client_id: 'web', redirect_uri: 'https://web.example/cb', scope: 'notes:read' }),
    );
    expect(after.status).toBe(200);
    expect(after.text).toContain('name="password"');
  });

  it('a client deleted and registered again under the same id does not inherit consent', async () => {
    const register = () =>
      auth.services.clients.create({
        clientId: 'temp',
        grants: 'authorization_code',
        scopes: 'notes:read',
        isPublic: true,
        resources: testResource,
        redirectUris: redirectUri,
      });
    await register();
    const agent = request.agent(auth.app);
    const url = authorizeQuery({ client_id: 'temp', scope: 'notes:read' });
    await allow(agent, await signIn(agent, url));
    expect((await agent.get(url)).status).toBe(303);
    await auth.services.clients.delete('temp');
    await register();
    const again = await agent.get(url);
    expect(again.status).toBe(200);
    expect(again.text).toContain('Allow');
  });

  it('resource indicators (RFC 8707): the code is bound to the resources asked for', async () => {
    const other = 'https://other-api.test';
    await auth.services.resourceStore.insert({
      uri: other,
      scopes: ['notes:read'],
      serverClientId: null,
      createdAt: Date.now(),
    });
    await auth.services.clients.create({
      clientId: 'multi',
      grants: 'authorization_code',
      scopes: 'notes:read',
      isPublic: true,
      firstParty: true,
      redirectUris: redirectUri,
      resources: `${testResource},${other}`,
    });
    const agent = request.agent(auth.app);
    // Two resources allowed: one must be named.
    const none = await agent.get(authorizeQuery({ client_id: 'multi', scope: 'notes:read' }));
    expect(new URL(none.headers.location as string).searchParams.get('error')).toBe('invalid_target');
    const unknown = await agent.get(
      authorizeQuery({ client_id: 'multi', scope: 'notes:read', resource: 'https://unknown.test' }),
    );
    expect(new URL(unknown.headers.location as string).searchParams.get('error')).toBe('invalid_target');

    const { verifier, challenge } = pkce();
    const res = await signIn(
      agent,
      authorizeQuery({ client_id: 'multi', scope: 'openid notes:read', resource: other }, challenge),
    );
    const code = new URL(res.headers.location as string).searchParams.get('code')!;
    const redeem = (resource?: string) =>
      request(auth.app)
        .post('/oauth/token')
        .type('form')
        .send({
          grant_type: 'authorization_code',
          client_id: 'multi',
          code,
          redirect_uri: redirectUri,
          code_verifier: verifier,
          ...(resource === undefined ? {} : { resource }),
        });
    // Not a resource of the code: refused (and the code is spent).
    expect((await redeem(testResource)).body).toMatchObject({ error: 'invalid_target' });
    const { verifier: v2, challenge: c2 } = pkce();
    const again = await agent.get(
      authorizeQuery({ client_id: 'multi', scope: 'openid notes:read', resource: other }, c2),
    );
    const code2 = new URL(again.headers.location as string).searchParams.get('code')!;
    const token = await request(auth.app).post('/oauth/token').type('form').send({
      grant_type: 'authorization_code',
      client_id: 'multi',
      code: code2,
      redirect_uri: redirectUri,
      code_verifier: v2,
    });
    expect(token.status).toBe(200);
    expect(
      decodeClaims<{ aud: string[] }>((token.body as { access_token: string }).access_token).aud,
    ).toEqual([other, 'http://auth.test/oauth/userinfo']);
  });

  it('discovery lists the endpoints', async () => {
    const res = await request(auth.app).get('/.well-known/openid-configuration');
    expect(res.body).toMatchObject({
      issuer: 'http://auth.test',
      authorization_endpoint: 'http://auth.test/oauth/authorize',
      userinfo_endpoint: 'http://auth.test/oauth/userinfo',
      end_session_endpoint: 'http://auth.test/oauth/logout',
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      id_token_signing_alg_values_supported: ['RS256'],
      authorization_response_iss_parameter_supported: true,
    });
    // The prompt values listed are exactly those the endpoint takes (an unlisted one is refused).
    const listed = (res.body as { prompt_values_supported: string[] }).prompt_values_supported;
    expect([...listed].sort()).toEqual(['consent', 'login', 'none', 'select_account']);
    for (const prompt of listed) {
      const page = await request(auth.app).get(authorizeQuery({ prompt }));
      expect(page.headers.location ?? '').not.toContain('error=invalid_request');
    }
  });

  it('the pages and userinfo have per-IP budgets (RATE_LIMIT_IP): over it, 429 with Retry-After', async () => {
    const limited = await createTestAuth({ RATE_LIMIT_IP: '2/1m' });
    try {
      await limited.services.clients.create({
        clientId: 'spa',
        grants: 'authorization_code',
        scopes: 'notes:read',
        isPublic: true,
        resources: testResource,
        redirectUris: redirectUri,
      });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await request(limited.app).get(authorizeQuery())).status);
      expect(statuses).toEqual([200, 200, 429]);
      const page = await request(limited.app).get(authorizeQuery());
      expect(page.headers['retry-after']).toMatch(/^\d+$/);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toContain('Too many requests');
      // userinfo has a budget of its own.
      const info = [];
      for (let i = 0; i < 3; i++) info.push((await request(limited.app).get('/oauth/userinfo')).status);
      expect(info).toEqual([401, 401, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('under an https issuer', () => {
  it('the session and CSRF cookies are __Host- prefixed, Secure, HttpOnly, SameSite=Lax, with no Domain', async () => {
    const auth = await createTestAuth({ ISSUER: 'https://auth.example' });
    try {
      await auth.services.users.create({ username: 'ana', password: 'correct horse battery', scopes: '' });
      await auth.services.clients.create({
        clientId: 'spa',
        grants: 'authorization_code',
        scopes: '',
        isPublic: true,
        resources: testResource,
        redirectUris: redirectUri,
        firstParty: true,
      });
      const page = await request(auth.app).get(authorizeQuery({ scope: 'openid' }));
      const csrfCookie = String(page.headers['set-cookie']);
      expect(csrfCookie).toMatch(
        /^__Host-tessera-csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      );
      const res = await request(auth.app)
        .post('/oauth/authorize/sign-in')
        .set('Cookie', csrfCookie.split(';')[0]!)
        .type('form')
        .send({
          csrf_token: field(page.text, 'csrf_token'),
          request: field(page.text, 'request'),
          username: 'ana',
          password: 'correct horse battery',
        });
      const session = (res.headers['set-cookie'] as unknown as string[]).find(
        (line) => line.startsWith('__Host-tessera-session=') && !line.startsWith('__Host-tessera-session=;'),
      );
      expect(session).toMatch(
        /^__Host-tessera-session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      );
      expect(new URL(res.headers.location as string).searchParams.get('iss')).toBe('https://auth.example');
    } finally {
      await auth.close();
    }
  });
});

/** The flow's storage on each dialect: sign in, consent, exchange, replay, logout ends the session. */
for (const { dialect, enabled } of testDialects()) {
  (enabled ? describe : describe.skip)(`browser sign-in on ${dialect.name}`, () => {
    let database: TestDatabase;
    let auth: TestAuth;
    beforeAll(async () => {
      database = await dialect.create();
      const url =
        database.location.dialect === 'sqlite'
          ? `sqlite:${database.location.file}`
          : database.location.connectionString;
      auth = await createTestAuth({ DATABASE_URL: url });
      await auth.services.users.create({
        username: 'ana',
        password: 'correct horse battery',
        scopes: 'notes:read',
      });
      await auth.services.clients.create({
        clientId: 'spa',
        grants: 'authorization_code,refresh_token',
        scopes: 'notes:read',
        isPublic: true,
        resources: testResource,
        redirectUris: redirectUri,
      });
    });
    afterAll(async () => {
      await auth?.close();
      await database?.drop();
    });

    it('signs in, remembers consent, redeems the code once, and logout ends the session', async () => {
      const agent = request.agent(auth.app);
      const { verifier, challenge } = pkce();
      const page = await agent.get(authorizeQuery({}, challenge));
      const consent = await agent
        .post('/oauth/authorize/sign-in')
        .type('form')
        .send({
          csrf_token: field(page.text, 'csrf_token'),
          request: field(page.text, 'request'),
          username: 'ana',
          password: 'correct horse battery',
        });
      const back = await agent
        .post('/oauth/authorize/consent')
        .type('form')
        .send({
          csrf_token: field(consent.text, 'csrf_token'),
          request: field(consent.text, 'request'),
          decision: 'allow',
        });
      const code = new URL(back.headers.location as string).searchParams.get('code')!;
      const exchange = () =>
        request(auth.app).post('/oauth/token').type('form').send({
          grant_type: 'authorization_code',
          client_id: 'spa',
          code,
          redirect_uri: redirectUri,
          code_verifier: verifier,
        });
      const first = await exchange();
      expect(first.status).toBe(200);
      expect((await exchange()).body).toMatchObject({ error: 'invalid_grant' });
      const refresh = await request(auth.app)
        .post('/oauth/token')
        .type('form')
        .send({
          grant_type: 'refresh_token',
          client_id: 'spa',
          refresh_token: first.body.refresh_token as string,
        });
      expect(refresh.status).toBe(400);
      // Consent remembered.
      expect((await agent.get(authorizeQuery())).status).toBe(303);
      const ask = await agent.get('/oauth/logout');
      await agent
        .post('/oauth/logout')
        .type('form')
        .send({ csrf_token: field(ask.text, 'csrf_token') });
      expect((await agent.get(authorizeQuery())).text).toContain('name="password"');
    });
  });
}
