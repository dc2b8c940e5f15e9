import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { digestRefreshToken } from '../src/tokens/refresh-tokens.js';
import type { RevocationFeedDocument } from '@tessera/shared';
import {
  basic,
  createTestAuth,
  decodeClaims,
  expectError,
  feedEntry,
  type TestAuth,
  testResource,
} from './helpers.js';

const day = 86_400_000;

describe('refresh tokens: rotation, reuse detection, concurrency, expiry (RFC 6749 §6, RFC 9700 §4.14)', () => {
  let auth: TestAuth;
  let secret: string;
  let ccSecret: string;
  let noRefreshSecret: string;
  let aliceId: string;

  beforeAll(async () => {
    auth = await createTestAuth({
      REFRESH_TOKEN_TTL: '30d',
      REFRESH_TOKEN_IDLE_TTL: '14d',
      REFRESH_TOKEN_REUSE_GRACE: '10s',
    });
    const { services } = auth;
    secret = (
      await services.clients.create({
        resources: testResource,
        clientId: 'app',
        grants: 'password,refresh_token,client_credentials',
        scopes: 'notes:read notes:write profile',
        isPublic: false,
      })
    ).secret!;
    ccSecret = (
      await services.clients.create({
        resources: testResource,
        clientId: 'other',
        grants: 'password,refresh_token',
        scopes: 'notes:read',
        isPublic: false,
      })
    ).secret!;
    noRefreshSecret = (
      await services.clients.create({
        resources: testResource,
        clientId: 'norefresh',
        grants: 'password',
        scopes: 'notes:read',
        isPublic: false,
      })
    ).secret!;
    aliceId = (
      await services.users.create({
        username: 'alice',
        password: 'alice-password',
        scopes: 'notes:read notes:write profile',
      })
    ).id;
    await services.users.create({ username: 'bob', password: 'bob-password-1', scopes: 'notes:read' });
  });
  afterAll(async () => {
    await auth.close();
  });

  const post = (clientId: string, clientSecret: string, body: Record<string, string>) =>
    request(auth.app)
      .post('/oauth/token')
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send(body);
  const login = async (username = 'alice', password = 'alice-password', scope?: string) => {
    const res = await post('app', secret, {
      grant_type: 'password',
      username,
      password,
      ...(scope === undefined ? {} : { scope }),
    });
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string; scope: string };
  };
  const refresh = (token: string, extra: Record<string, string> = {}) =>
    post('app', secret, { grant_type: 'refresh_token', refresh_token: token, ...extra });
  const familyOf = async (token: string) => {
    const record = await auth.services.storage.refreshTokens.find(digestRefreshToken(token));
    return auth.services.storage.refreshTokens.listFamily(record!.familyId);
  };
  const live = (rows: Awaited<ReturnType<typeof familyOf>>) =>
    rows.filter((row) => row.consumedAt === null && row.revokedAt === null);

  it('the password grant returns a 256-bit opaque refresh token, stored only as a digest', async () => {
    const body = await login();
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await familyOf(body.refresh_token);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe(digestRefreshToken(body.refresh_token));
    expect(JSON.stringify(rows)).not.toContain(body.refresh_token);
    // The access token carries the family as `sid`, so revoking the family reaches it.
    expect(decodeClaims(body.access_token).sid).toBe(rows[0]!.familyId);
  });

  it('client_credentials never returns a refresh token (RFC 6749 §4.4.3), nor does a client without the grant', async () => {
    const cc = await post('app', secret, { grant_type: 'client_credentials' });
    expect(cc.status).toBe(200);
    expect(cc.body.refresh_token).toBeUndefined();
    const pw = await post('norefresh', noRefreshSecret, {
      grant_type: 'password',
      username: 'bob',
      password: 'bob-password-1',
    });
    expect(pw.status).toBe(200);
    expect(pw.body.refresh_token).toBeUndefined();
  });

  it('every use rotates: the old token is consumed and a new one issued, with the same family and scope', async () => {
    const first = await login();
    const res = await refresh(first.refresh_token);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    expect(res.body.scope).toBe('notes:read notes:write profile');
    expect(decodeClaims(res.body.access_token as string).sub).toBe(aliceId);
    const rows = await familyOf(first.refresh_token);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.consumedAt).not.toBeNull();
    expect(live(rows).map((row) => row.id)).toEqual([digestRefreshToken(res.body.refresh_token as string)]);
  });

  it('a refresh may narrow the scope of the access token; the refresh token keeps the original scope', async () => {
    const first = await login();
    const narrowed = await refresh(first.refresh_token, { scope: 'notes:read' });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('notes:read');
    const again = await refresh(narrowed.body.refresh_token as string);
    expect(again.body.scope).toBe('notes:read notes:write profile');
  });

  it('a refresh can never widen the scope: 400 invalid_scope', async () => {
    const first = await login('alice', 'alice-password', 'notes:read');
    const res = await refresh(first.refresh_token, { scope: 'notes:read notes:write' });
    expectError(res, 400, 'invalid_scope');
  });

  it('when a rotated-away token is reused after the grace window, the whole family is revoked and 400 invalid_grant is returned', async () => {
    const first = await login();
    const second = (await refresh(first.refresh_token)).body.refresh_token as string;
    const third = (await refresh(second)).body.refresh_token as string;
    auth.clock.advance(11_000);
    expectError(await refresh(first.refresh_token), 400, 'invalid_grant');
    // Old and newest both fail afterwards; nothing in the family is live.
    expectError(await refresh(third), 400, 'invalid_grant');
    expectError(await refresh(second), 400, 'invalid_grant');
    const rows = await familyOf(first.refresh_token);
    expect(live(rows)).toHaveLength(0);
    expect(rows.every((row) => row.revokedAt !== null)).toBe(true);
    // Logged as suspected theft, without the token.
    const line = auth.lines.find((l) => l.includes('refresh.reuse_detected'));
    expect(line).toBeDefined();
    expect(line).not.toContain(first.refresh_token);
    // The family's access tokens reach the revocation feed through their sid.
    const feed = await request(auth.app).get('/oauth/revocations');
    expect(feedEntry(feed.body as RevocationFeedDocument, 'sid', rows[0]!.familyId)).toBe(true);
  });

  it('a retry within the grace window gets the same successor, not a new branch', async () => {
    const first = await login();
    const a = await refresh(first.refresh_token);
    auth.clock.advance(5_000);
    const b = await refresh(first.refresh_token);
    expect(b.status).toBe(200);
    expect(b.body.refresh_token).toBe(a.body.refresh_token);
    expect(live(await familyOf(first.refresh_token))).toHaveLength(1);
  });

  it('20 concurrent refreshes of one token: every caller gets the same successor, and one live token remains', async () => {
    const first = await login();
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(first.refresh_token)));
    const successors = new Set<string>();
    for (const res of results) {
      if (res.status === 200) successors.add(res.body.refresh_token as string);
      else expectError(res, 400, 'invalid_grant');
    }
    expect(successors.size).toBe(1);
    const rows = await familyOf(first.refresh_token);
    expect(rows).toHaveLength(2);
    expect(live(rows).map((row) => row.id)).toEqual([digestRefreshToken([...successors][0]!)]);
    // The successor works.
    expect((await refresh([...successors][0]!)).status).toBe(200);
  });

  it('a token unused for the idle lifetime expires (14 days), even though the absolute lifetime has not passed', async () => {
    const first = await login();
    auth.clock.advance(14 * day + 1000);
    expectError(await refresh(first.refresh_token), 400, 'invalid_grant');
  });

  it('using a token renews the idle lifetime but never the absolute one (30 days from the login)', async () => {
    let token = (await login()).refresh_token;
    for (let i = 0; i < 3; i++) {
      auth.clock.advance(9 * day);
      const res = await refresh(token);
      expect(res.status).toBe(200);
      token = res.body.refresh_token as string;
    }
    // 36 days after the login: expired although used 9 days ago (well inside the idle lifetime).
    auth.clock.advance(9 * day);
    const res = await refresh(token);
    expectError(res, 400, 'invalid_grant');
    expect(res.body.error_description).toMatch(/expired/);
  });

  it('a refresh token issued to another client is refused with invalid_grant and left untouched', async () => {
    const first = await login();
    const res = await post('other', ccSecret, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
    });
    expectError(res, 400, 'invalid_grant');
    expect(live(await familyOf(first.refresh_token))).toHaveLength(1);
  });

  it('unknown, malformed and missing refresh tokens are refused', async () => {
    expectError(await refresh('A'.repeat(43)), 400, 'invalid_grant');
    expectError(await refresh('not a token'), 400, 'invalid_grant');
    expectError(await post('app', secret, { grant_type: 'refresh_token' }), 400, 'invalid_request');
  });

  it('disabling a user invalidates their refresh tokens', async () => {
    await auth.services.users.create({ username: 'carol', password: 'carol-password', scopes: 'notes:read' });
    const first = await login('carol', 'carol-password');
    await auth.services.users.disable('carol');
    expectError(await refresh(first.refresh_token), 400, 'invalid_grant');
    expect(live(await familyOf(first.refresh_token))).toHaveLength(0);
  });

  it('deleting a client deletes its refresh tokens', async () => {
    const { secret: tempSecret } = await auth.services.clients.create({
      resources: testResource,
      clientId: 'temp',
      grants: 'password,refresh_token',
      scopes: 'notes:read',
      isPublic: false,
    });
    const res = await post('temp', tempSecret!, {
      grant_type: 'password',
      username: 'bob',
      password: 'bob-password-1',
    });
    const digest = digestRefreshToken(res.body.refresh_token as string);
    expect(await auth.services.storage.refreshTokens.find(digest)).toBeDefined();
    await auth.services.clients.delete('temp');
    expect(await auth.services.storage.refreshTokens.find(digest)).toBeUndefined();
    const after = await post('temp', tempSecret!, {
      grant_type: 'refresh_token',
      refresh_token: res.body.refresh_token as string,
    });
    expect(after.status).toBe(401);
  });

  it('the metadata lists the refresh_token grant and the revocation and introspection endpoints', async () => {
    const res = await request(auth.app).get('/.well-known/oauth-authorization-server');
    expect(res.body.grant_types_supported).toContain('refresh_token');
    expect(res.body.revocation_endpoint).toBe('http://auth.test/oauth/revoke');
    expect(res.body.introspection_endpoint).toBe('http://auth.test/oauth/introspect');
  });
});
