import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RevocationFeedDocument as Feed } from '@tessera/shared';
import request from 'supertest';
import { digestRefreshToken } from '../src/tokens/refresh-tokens.js';
import {
  basic,
  createTestAuthWithClients,
  decodeClaims,
  expectError,
  expectInvalidClient,
  feedEntry,
  form,
  postAsClient,
  type TestAuth,
  testResource,
} from './helpers.js';

describe('POST /oauth/revoke (RFC 7009)', () => {
  let auth: TestAuth;
  let appSecret: string;
  let otherSecret: string;

  beforeAll(async () => {
    ({ auth, appSecret, otherSecret } = await createTestAuthWithClients('password,refresh_token'));
    const { users } = auth.services;
    await users.create({ username: 'alice', password: 'alice-password', scopes: 'notes:read notes:write' });
    // `app` introspects as the resource's own server (RFC 7662 §4).
    await auth.services.resources.update(testResource, { serverClientId: 'app' });
  });
  afterAll(async () => {
    await auth.close();
  });

  const nowSeconds = () => Math.floor(auth.clock.now() / 1000);
  const claimsOf = (jwt: string) => decodeClaims<{ jti: string; sid?: string; exp: number }>(jwt);

  /** A password-grant login; a `null` secret logs in as a public client. */
  async function login(clientId = 'app', secret: string | null = appSecret) {
    let req = request(auth.app).post('/oauth/token').type('form');
    if (secret !== null) req = req.set('Authorization', basic(clientId, secret));
    const res = await req.send(
      form(
        ['grant_type', 'password'],
        ['username', 'alice'],
        ['password', 'alice-password'],
        ...(secret === null ? [['client_id', clientId] as [string, string]] : []),
      ),
    );
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string };
  }

  const revoke = (clientId: string, secret: string, ...pairs: [string, string][]) =>
    postAsClient(auth, '/oauth/revoke', clientId, secret, ...pairs);

  const refresh = (token: string) =>
    postAsClient(
      auth,
      '/oauth/token',
      'app',
      appSecret,
      ['grant_type', 'refresh_token'],
      ['refresh_token', token],
    );

  const introspect = (token: string) =>
    postAsClient(auth, '/oauth/introspect', 'app', appSecret, ['token', token]);

  async function feed(): Promise<Feed> {
    const res = await request(auth.app).get('/oauth/revocations');
    expect(res.status).toBe(200);
    return res.body as Feed;
  }

  async function familyRows(refreshToken: string) {
    const record = await auth.services.storage.refreshTokens.find(digestRefreshToken(refreshToken));
    return auth.services.storage.refreshTokens.listFamily(record!.familyId);
  }

  /** The 200 RFC 7009 §2.2 requires: empty body, not cacheable. */
  function expectRevoked(res: request.Response) {
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers['cache-control']).toBe('no-store');
  }

  it('a refresh token revoked by its client: 200 empty, the family is revoked in the store and listed under sid, and refreshing fails', async () => {
    const tokens = await login();
    const familyId = claimsOf(tokens.access_token).sid!;
    const before = await feed();
    expect(feedEntry(before, 'sid', familyId)).toBeUndefined();

    expectRevoked(await revoke('app', appSecret, ['token', tokens.refresh_token]));

    const rows = await familyRows(tokens.refresh_token);
    expect(rows).toHaveLength(1);
    expect(rows.every((row) => row.revokedAt === auth.clock.now())).toBe(true);
    expect(feedEntry(await feed(), 'sid', familyId)).toBe(true);
    expectError(await refresh(tokens.refresh_token), 400, 'invalid_grant');
    // The access token minted with the family carries its sid, so it is refused too.
    expect((await introspect(tokens.access_token)).body).toEqual({ active: false });
  });

  it('revoking a rotated refresh family revokes every token in it, the live successor included', async () => {
    const tokens = await login();
    const rotated = await refresh(tokens.refresh_token);
    expect(rotated.status).toBe(200);
    const successor = rotated.body.refresh_token as string;

    expectRevoked(await revoke('app', appSecret, ['token', successor]));

    const rows = await familyRows(tokens.refresh_token);
    expect(rows).toHaveLength(2);
    expect(rows.map((row) => row.revokedAt !== null || row.consumedAt !== null)).toEqual([true, true]);
    expect(rows.find((row) => row.id === digestRefreshToken(successor))!.revokedAt).toBe(auth.clock.now());
    expectError(await refresh(successor), 400, 'invalid_grant');
  });

  it('an access token minted from a refresh token: its whole family is revoked (one sid entry, no jti), and introspection says inactive', async () => {
    const tokens = await login();
    const { jti, sid } = claimsOf(tokens.access_token);
    expect((await introspect(tokens.access_token)).body.active).toBe(true);

    expectRevoked(await revoke('app', appSecret, ['token', tokens.access_token]));

    const document = await feed();
    expect(feedEntry(document, 'sid', sid!)).toBe(true);
    expect(feedEntry(document, 'jti', jti)).toBeUndefined();
    const entries = await auth.services.storage.revocations.listActive(nowSeconds());
    expect(entries.filter((row) => row.value === sid || row.value === jti)).toEqual([
      {
        kind: 'sid',
        value: sid,
        clientId: 'app',
        revokedAt: nowSeconds(),
        expiresAt: nowSeconds() + 900 + 300,
      },
    ]);
    expect((await introspect(tokens.access_token)).body).toEqual({ active: false });
    // RFC 7009 §2.1: the refresh token of that session is revoked with it.
    expectError(await refresh(tokens.refresh_token), 400, 'invalid_grant');
  });

  it('a client_credentials access token (no sid) is revoked by its jti', async () => {
    const issued = await postAsClient(auth, '/oauth/token', 'app', appSecret, [
      'grant_type',
      'client_credentials',
    ]);
    const token = issued.body.access_token as string;

    expectRevoked(await revoke('app', appSecret, ['token', token]));

    const { jti, exp } = claimsOf(token);
    expect(feedEntry(await feed(), 'jti', jti)).toBe(true);
    const [entry] = (await auth.services.storage.revocations.listActive(nowSeconds())).filter(
      (row) => row.value === jti,
    );
    // Listed until exp + the largest clock tolerance a verifier may use (300 s), not exp + 60 s.
    expect(entry).toEqual({
      kind: 'jti',
      value: jti,
      clientId: 'app',
      revokedAt: nowSeconds(),
      expiresAt: exp + 300,
    });
    expect((await introspect(token)).body).toEqual({ active: false });
  });

  it.each([['access_token'], ['refresh_token'], ['no_such_type']])(
    'token_type_hint=%s only orders the lookup: both kinds are revoked whatever the hint',
    async (hint) => {
      const tokens = await login();
      const { jti, sid } = claimsOf(tokens.access_token);

      expectRevoked(
        await revoke('app', appSecret, ['token', tokens.access_token], ['token_type_hint', hint]),
      );
      expectRevoked(
        await revoke('app', appSecret, ['token', tokens.refresh_token], ['token_type_hint', hint]),
      );

      const document = await feed();
      expect(feedEntry(document, 'jti', jti)).toBeUndefined();
      expect(feedEntry(document, 'sid', sid!)).toBe(true);
      expect((await familyRows(tokens.refresh_token))[0]!.revokedAt).not.toBeNull();
    },
  );

  it('client_secret_post works as well as client_secret_basic', async () => {
    const tokens = await login();
    const res = await request(auth.app)
      .post('/oauth/revoke')
      .type('form')
      .send(form(['client_id', 'app'], ['client_secret', appSecret], ['token', tokens.refresh_token]));
    expectRevoked(res);
    expect((await familyRows(tokens.refresh_token))[0]!.revokedAt).not.toBeNull();
  });

  it('a public client revokes its own refresh token with only its client_id', async () => {
    const tokens = await login('mobile', null);
    const familyId = claimsOf(tokens.access_token).sid!;

    const res = await request(auth.app)
      .post('/oauth/revoke')
      .type('form')
      .send(form(['client_id', 'mobile'], ['token', tokens.refresh_token]));

    expectRevoked(res);
    expect((await familyRows(tokens.refresh_token))[0]!.revokedAt).toBe(auth.clock.now());
    expect(feedEntry(await feed(), 'sid', familyId)).toBe(true);
  });

  describe('tokens the client may not revoke answer 200 and change nothing (§2.2)', () => {
    let appTokens: { access_token: string; refresh_token: string };
    let otherTokens: { access_token: string; refresh_token: string };

    beforeAll(async () => {
      appTokens = await login();
      otherTokens = await login('other', otherSecret);
    });

    /** The feed entries, its ETag and both families' rows: what any revocation would change. */
    async function snapshot() {
      const res = await request(auth.app).get('/oauth/revocations');
      return {
        etag: res.headers.etag as string,
        revoked: (res.body as Feed).revoked,
        families: [await familyRows(appTokens.refresh_token), await familyRows(otherTokens.refresh_token)],
      };
    }

    it.each<[string, () => string, string, () => string]>([
      ['an unknown refresh-shaped token', () => 'A'.repeat(43), 'app', () => appSecret],
      ['garbage', () => 'not a token at all', 'app', () => appSecret],
      ['a JWT-shaped string', () => 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'app', () => appSecret],
      ["another client's refresh token", () => otherTokens.refresh_token, 'app', () => appSecret],
      ["another client's access token", () => otherTokens.access_token, 'app', () => appSecret],
      ["app's refresh token, by other", () => appTokens.refresh_token, 'other', () => otherSecret],
      ["app's access token, by other", () => appTokens.access_token, 'other', () => otherSecret],
    ])('%s', async (_name, token, clientId, secret) => {
      const before = await snapshot();

      expectRevoked(await revoke(clientId, secret(), ['token', token()]));

      expect(await snapshot()).toEqual(before);
      expect((await introspect(appTokens.access_token)).body.active).toBe(true);
    });

    it('an expired access token (advance the clock past exp)', async () => {
      const tokens = await login();
      auth.clock.advance(15 * 60_000 + 1000);
      const before = await snapshot();

      expectRevoked(await revoke('app', appSecret, ['token', tokens.access_token]));

      expect(await snapshot()).toEqual(before);
      const { jti, sid } = claimsOf(tokens.access_token);
      expect(feedEntry(await feed(), 'jti', jti)).toBeUndefined();
      expect(feedEntry(await feed(), 'sid', sid!)).toBeUndefined();
    });
  });

  describe('refused requests', () => {
    it('no client authentication: 401 invalid_client with a Basic challenge', async () => {
      const res = await request(auth.app)
        .post('/oauth/revoke')
        .type('form')
        .send(form(['token', 'whatever']));
      expectInvalidClient(res);
    });

    it('a wrong secret: 401 invalid_client, and the token stays live', async () => {
      const tokens = await login();
      expectInvalidClient(await revoke('app', 'wrong-secret', ['token', tokens.refresh_token]));
      expect((await familyRows(tokens.refresh_token))[0]!.revokedAt).toBeNull();
    });

    it('a confidential client presenting only its client_id: 401 invalid_client', async () => {
      const tokens = await login();
      const res = await request(auth.app)
        .post('/oauth/revoke')
        .type('form')
        .send(form(['client_id', 'app'], ['token', tokens.refresh_token]));
      expectInvalidClient(res);
      expect((await familyRows(tokens.refresh_token))[0]!.revokedAt).toBeNull();
    });

    it('a missing token: 400 invalid_request', async () => {
      expectError(await revoke('app', appSecret), 400, 'invalid_request');
      expectError(await revoke('app', appSecret, ['token', '']), 400, 'invalid_request');
    });

    it('the token in the query string: 400 invalid_request, nothing revoked', async () => {
      const tokens = await login();
      const res = await request(auth.app)
        .post('/oauth/revoke')
        .query({ token: tokens.refresh_token })
        .set('Authorization', basic('app', appSecret))
        .type('form')
        .send(form(['token', tokens.refresh_token]));
      expectError(res, 400, 'invalid_request');
      expect((await familyRows(tokens.refresh_token))[0]!.revokedAt).toBeNull();
    });

    it('GET: 405 with Allow: POST', async () => {
      const res = await request(auth.app).get('/oauth/revoke');
      expectError(res, 405, 'method_not_allowed');
      expect(res.headers.allow).toBe('POST');
    });

    it('a JSON body: 400 invalid_request, nothing revoked', async () => {
      const tokens = await login();
      const res = await request(auth.app)
        .post('/oauth/revoke')
        .set('Authorization', basic('app', appSecret))
        .send({ token: tokens.refresh_token });
      expectError(res, 400, 'invalid_request');
      expect((await familyRows(tokens.refresh_token))[0]!.revokedAt).toBeNull();
    });
  });

  describe('a per-client quota bounds what one client adds to the feed', () => {
    it('a client with 1,000 live entries gets 503 temporarily_unavailable with Retry-After and adds nothing; another client is unaffected; expiry frees the quota', async () => {
      const store = auth.services.storage.revocations;
      const live = await store.countForClient('app', nowSeconds());
      for (let i = live; i < 1000; i += 1)
        await store.upsert({
          kind: 'jti',
          value: `filler-${i}`,
          clientId: 'app',
          revokedAt: nowSeconds(),
          expiresAt: nowSeconds() + 100,
        });
      const tokens = await login();
      const { sid } = claimsOf(tokens.access_token);

      for (const token of [tokens.access_token, tokens.refresh_token]) {
        const refused = await revoke('app', appSecret, ['token', token]);
        expectError(refused, 503, 'temporarily_unavailable');
        expect(refused.headers['retry-after']).toBe('60');
      }
      expect(feedEntry(await feed(), 'sid', sid!)).toBeUndefined();
      expect((await introspect(tokens.access_token)).body.active).toBe(true);

      const others = await login('other', otherSecret);
      expectRevoked(await revoke('other', otherSecret, ['token', others.refresh_token]));

      // Every earlier entry of this file has expired 15 minutes + 300 s on; the fillers after 100 s.
      auth.clock.advance(1_300_000);
      const later = await login();
      expectRevoked(await revoke('app', appSecret, ['token', later.access_token]));
      expect(feedEntry(await feed(), 'sid', claimsOf(later.access_token).sid!)).toBe(true);
    });
  });
});
