import { newKeyPairSync } from '@tessera/shared';
import { randomUUID, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import request from 'supertest';
import {
  basic,
  createTestAuthWithClients,
  decodeClaims,
  expectError,
  expectInvalidClient,
  form,
  passwordLogin,
  postAsClient,
  testResource,
  type TestAuth,
} from './helpers.js';

describe('POST /oauth/introspect (RFC 7662)', () => {
  let auth: TestAuth;
  let appSecret: string;
  let otherSecret: string;
  let aliceId: string;

  beforeAll(async () => {
    ({ auth, appSecret, otherSecret } = await createTestAuthWithClients('client_credentials'));
    const { users } = auth.services;
    aliceId = (
      await users.create({ username: 'alice', password: 'alice-password', scopes: 'notes:read notes:write' })
    ).id;
    await users.create({ username: 'dave', password: 'dave-password', scopes: 'notes:read' });
    // `app` is the resource's own server: it alone may introspect tokens for it (RFC 7662 §4).
    await auth.services.resources.update(testResource, { serverClientId: 'app' });
  });
  afterAll(async () => {
    await auth.close();
  });

  const nowSeconds = () => Math.floor(auth.clock.now() / 1000);

  const login = (username = 'alice', password = 'alice-password') =>
    passwordLogin(auth, 'app', appSecret, username, password);

  const introspect = (clientId: string, secret: string, ...pairs: [string, string][]) =>
    postAsClient(auth, '/oauth/introspect', clientId, secret, ...pairs);

  /** An introspection answer: 200, never cached (RFC 7662 §2.2, RFC 6749 §5.1). */
  function answer(res: request.Response): Record<string, unknown> {
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    return res.body as Record<string, unknown>;
  }

  /** A token signed like ours (alg, typ, kid), with chosen claims and key. */
  async function signed(overrides: Record<string, unknown>, key?: { kid: string; privateKey: KeyObject }) {
    const { kid, privateKey } = key ?? auth.services.keys.signingKey();
    const iat = nowSeconds();
    return new SignJWT({
      client_id: 'app',
      scope: 'notes:read',
      jti: randomUUID(),
      iss: auth.config.issuer,
      aud: testResource,
      sub: aliceId,
      iat,
      exp: iat + 900,
      ...overrides,
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .sign(privateKey);
  }

  describe('access tokens', () => {
    it('an active token: 200 with every RFC 7662 §2.2 member we know, and no-store', async () => {
      const tokens = await login();
      const claims = decodeClaims(tokens.access_token);

      const body = answer(await introspect('app', appSecret, ['token', tokens.access_token]));

      expect(body).toEqual({
        active: true,
        scope: 'notes:read notes:write',
        client_id: 'app',
        sub: aliceId,
        exp: nowSeconds() + 900,
        iat: nowSeconds(),
        token_type: 'Bearer',
        iss: 'http://auth.test',
        aud: testResource,
        jti: claims.jti,
      });
    });

    it.each([['access_token'], ['refresh_token'], ['bogus']])(
      'token_type_hint=%s does not change the answer',
      async (hint) => {
        const tokens = await login();
        const body = answer(
          await introspect('app', appSecret, ['token', tokens.access_token], ['token_type_hint', hint]),
        );
        expect(body.active).toBe(true);
        expect(body.token_type).toBe('Bearer');
      },
    );

    it("a client that is not the server of the token's resource learns nothing: exactly {active: false} (RFC 7662 §4)", async () => {
      const tokens = await login();
      expect(answer(await introspect('other', otherSecret, ['token', tokens.access_token]))).toEqual({
        active: false,
      });
    });

    it('the resource server introspects the tokens of every client for its resource', async () => {
      const { body } = await postAsClient(auth, '/oauth/token', 'other', otherSecret, [
        'grant_type',
        'client_credentials',
      ]);
      const introspected = answer(
        await introspect('app', appSecret, ['token', (body as { access_token: string }).access_token]),
      );
      expect(introspected).toMatchObject({ active: true, client_id: 'other', aud: testResource });
    });

    it('client_secret_post works as well as client_secret_basic', async () => {
      const tokens = await login();
      const res = await request(auth.app)
        .post('/oauth/introspect')
        .type('form')
        .send(form(['client_id', 'app'], ['client_secret', appSecret], ['token', tokens.access_token]));
      expect(answer(res).active).toBe(true);
    });

    it('a token signed with our own key but with the right claims is active (the helper is sound)', async () => {
      const body = answer(await introspect('app', appSecret, ['token', await signed({})]));
      expect(body.active).toBe(true);
    });

    const inactive: Array<[string, () => Promise<string>]> = [
      ['another audience (our key)', () => signed({ aud: 'someone-else' })],
      ['another issuer (our key)', () => signed({ iss: 'http://evil.test' })],
      [
        'a foreign key under our kid',
        () => {
          const { privateKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
          return signed({}, { kid: auth.services.keys.signingKey().kid, privateKey });
        },
      ],
      [
        'a foreign key under an unknown kid',
        () => {
          const { privateKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
          return signed({}, { kid: 'unknown-kid', privateKey });
        },
      ],
      [
        'a tampered payload',
        async () => {
          const [header, , signature] = (await signed({})).split('.');
          const payload = Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url');
          return `${header}.${payload}.${signature}`;
        },
      ],
      ['garbage', async () => 'not-a-token'],
      ['an unknown opaque token', async () => 'A'.repeat(43)],
    ];
    it.each(inactive)('%s: exactly {active: false}', async (_name, token) => {
      const body = answer(await introspect('app', appSecret, ['token', await token()]));
      expect(body).toEqual({ active: false });
    });

    it('an expired token (the clock advanced past exp): exactly {active: false}', async () => {
      const tokens = await login();
      expect(answer(await introspect('app', appSecret, ['token', tokens.access_token])).active).toBe(true);
      auth.clock.advance(900_000);

      const body = answer(await introspect('app', appSecret, ['token', tokens.access_token]));

      expect(body).toEqual({ active: false });
    });

    it('a token revoked through /oauth/revoke: exactly {active: false}, for every client', async () => {
      const tokens = await login();
      const revoked = await postAsClient(auth, '/oauth/revoke', 'app', appSecret, [
        'token',
        tokens.access_token,
      ]);
      expect(revoked.status).toBe(200);

      expect(answer(await introspect('app', appSecret, ['token', tokens.access_token]))).toEqual({
        active: false,
      });
      expect(answer(await introspect('other', otherSecret, ['token', tokens.access_token]))).toEqual({
        active: false,
      });
    });
  });

  describe('refresh tokens', () => {
    it('introspected by its own client: active, token_type refresh_token, and its scope, client, subject and lifetime', async () => {
      const tokens = await login();

      const body = answer(await introspect('app', appSecret, ['token', tokens.refresh_token]));

      // The default idle lifetime (14 days) is shorter than the absolute one (30 days).
      expect(body).toEqual({
        active: true,
        token_type: 'refresh_token',
        scope: 'notes:read notes:write',
        client_id: 'app',
        sub: aliceId,
        iat: nowSeconds(),
        exp: nowSeconds() + 14 * 86_400,
      });
    });

    it('introspected by another client: exactly {active: false}, and the token stays usable', async () => {
      const tokens = await login();
      expect(answer(await introspect('other', otherSecret, ['token', tokens.refresh_token]))).toEqual({
        active: false,
      });
      expect(answer(await introspect('app', appSecret, ['token', tokens.refresh_token])).active).toBe(true);
    });

    it('a consumed (rotated) token is inactive; its successor is active', async () => {
      const tokens = await login();
      const rotated = await postAsClient(
        auth,
        '/oauth/token',
        'app',
        appSecret,
        ['grant_type', 'refresh_token'],
        ['refresh_token', tokens.refresh_token],
      );
      expect(rotated.status).toBe(200);

      expect(answer(await introspect('app', appSecret, ['token', tokens.refresh_token]))).toEqual({
        active: false,
      });
      expect(
        answer(await introspect('app', appSecret, ['token', rotated.body.refresh_token as string])).active,
      ).toBe(true);
    });

    it('a revoked token is inactive', async () => {
      const tokens = await login();
      await postAsClient(auth, '/oauth/revoke', 'app', appSecret, ['token', tokens.refresh_token]);
      expect(answer(await introspect('app', appSecret, ['token', tokens.refresh_token]))).toEqual({
        active: false,
      });
    });
  });

  it('after the user is disabled, both their access and refresh tokens are inactive', async () => {
    const tokens = await login('dave', 'dave-password');
    expect(answer(await introspect('app', appSecret, ['token', tokens.access_token])).active).toBe(true);
    expect(answer(await introspect('app', appSecret, ['token', tokens.refresh_token])).active).toBe(true);

    await auth.services.users.disable('dave');

    expect(answer(await introspect('app', appSecret, ['token', tokens.access_token]))).toEqual({
      active: false,
    });
    expect(answer(await introspect('app', appSecret, ['token', tokens.refresh_token]))).toEqual({
      active: false,
    });
  });

  describe('refused requests', () => {
    it('a public client: 401 invalid_client (introspection needs a confidential client)', async () => {
      const tokens = await login();
      const res = await request(auth.app)
        .post('/oauth/introspect')
        .type('form')
        .send(form(['client_id', 'mobile'], ['token', tokens.access_token]));
      expectInvalidClient(res);
    });

    it('no client authentication: 401 invalid_client with a Basic challenge', async () => {
      const res = await request(auth.app)
        .post('/oauth/introspect')
        .type('form')
        .send(form(['token', 'anything']));
      expectInvalidClient(res);
    });

    it('a wrong secret: 401 invalid_client', async () => {
      const tokens = await login();
      expectInvalidClient(await introspect('app', 'wrong-secret', ['token', tokens.access_token]));
    });

    it('a missing token: 400 invalid_request', async () => {
      expectError(await introspect('app', appSecret), 400, 'invalid_request');
    });

    it('GET: 405 with Allow: POST', async () => {
      const res = await request(auth.app).get('/oauth/introspect');
      expectError(res, 405, 'method_not_allowed');
      expect(res.headers.allow).toBe('POST');
    });

    it('a JSON body: 400 invalid_request', async () => {
      const res = await request(auth.app)
        .post('/oauth/introspect')
        .set('Authorization', basic('app', appSecret))
        .send({ token: 'anything' });
      expectError(res, 400, 'invalid_request');
    });
  });
});
