import { storeCacheTtlMs } from '../src/storage/storage.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { revocationDigest, type RevocationFeedDocument as Feed } from '@tessera/shared';
import request from 'supertest';
import { digestRefreshToken } from '../src/tokens/refresh-tokens.js';
import {
  createClientFor,
  createTestAuthWithApp,
  decodeClaims,
  expectError,
  feedEntry,
  passwordLogin,
  postAsClient,
  type TestAuth,
} from './helpers.js';

const accessTtlSeconds = 900;
/** Entries outlive their last token by the largest clock tolerance a verifier may use. */
const retentionSeconds = 300;
/** User and client cut-offs lie this far ahead (the client-cache lifetime). */
const marginSeconds = storeCacheTtlMs / 1000;
const emptyLists = { jti: '', sid: '', sub: {}, client_id: {} };

describe('GET /oauth/revocations: the revocation feed resource servers poll', () => {
  let auth: TestAuth;
  let appSecret: string;

  beforeAll(async () => {
    ({ auth, appSecret } = await createTestAuthWithApp('notes:read'));
    const { users } = auth.services;
    await users.create({ username: 'alice', password: 'alice-password', scopes: 'notes:read' });
    await users.create({ username: 'erin', password: 'erin-password', scopes: 'notes:read' });
  });
  afterAll(async () => {
    await auth.close();
  });

  const nowSeconds = () => Math.floor(auth.clock.now() / 1000);
  const claimsOf = (jwt: string) =>
    decodeClaims<{ jti: string; sid?: string; sub: string; exp: number }>(jwt);

  async function getFeed(ifNoneMatch?: string) {
    const req = request(auth.app).get('/oauth/revocations');
    return ifNoneMatch === undefined ? req : req.set('If-None-Match', ifNoneMatch);
  }

  const login = (username = 'alice', password = 'alice-password', clientId = 'app', secret = appSecret) =>
    passwordLogin(auth, clientId, secret, username, password);

  async function revoke(token: string) {
    const res = await postAsClient(auth, '/oauth/revoke', 'app', appSecret, ['token', token]);
    expect(res.status).toBe(200);
  }

  /** Every answer carrying the document: public, cacheable for 5 s, with a strong ETag. */
  function expectCacheable(res: request.Response) {
    expect(res.headers['cache-control']).toBe('public, max-age=5');
    expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
  }

  it('answers 200 JSON {generated_at, key_set, revoked: {jti, sid, sub, client_id}}, public for 5 s, with a strong ETag', async () => {
    const res = await getFeed();

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expectCacheable(res);
    expect(res.body).toEqual({
      generated_at: nowSeconds(),
      // The JWKS version, so verifiers learn of a replaced key at their next poll.
      key_set: auth.services.keys.jwks().etag,
      revoked: emptyLists,
    });
  });

  it('names the new key set as soon as this server has loaded it (a compromise reaches verifiers at their next poll)', async () => {
    const before = await getFeed();
    const { keys } = auth.services;
    const leaked = keys.signingKey().kid;
    await keys.compromise(leaked);
    await keys.load();

    const after = await getFeed(before.headers.etag);
    expect(after.status).toBe(200);
    expect(after.body.key_set).toBe(keys.jwks().etag);
    expect(after.body.key_set).not.toBe(before.body.key_set);
  });

  it('If-None-Match with the current ETag (strong, weak, or in a list) answers 304 with no body', async () => {
    const { headers } = await getFeed();
    const etag = headers.etag as string;

    for (const tag of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await getFeed(tag);
      expect(res.status).toBe(304);
      expect(res.text).toBe('');
      expectCacheable(res);
      expect(res.headers.etag).toBe(etag);
    }
    expect((await getFeed('"stale"')).status).toBe(200);
  });

  it('HEAD answers the headers only; other methods are 405 with Allow: GET, HEAD', async () => {
    const head = await request(auth.app).head('/oauth/revocations');
    expect(head.status).toBe(200);
    expectCacheable(head);
    expect(head.text).toBeUndefined();

    const post = await request(auth.app).post('/oauth/revocations');
    expectError(post, 405, 'method_not_allowed');
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('the ETag changes when an entry is added, and not when only time passes', async () => {
    const before = await getFeed();
    // Past the feed's max-age (5 s), a held snapshot is rebuilt before it is served.
    auth.clock.advance(6_000);
    const later = await getFeed();
    expect(later.headers.etag).toBe(before.headers.etag);
    expect(later.body.generated_at).toBe(before.body.generated_at + 6);
    expect((await getFeed(before.headers.etag as string)).status).toBe(304);

    const tokens = await login();
    await revoke(tokens.access_token);

    const after = await getFeed(before.headers.etag);
    expect(after.status).toBe(200);
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(feedEntry(after.body as Feed, 'sid', claimsOf(tokens.access_token).sid!)).toBe(true);
  });

  it('disabling a user lists a digest of their id under sub, cut off one client-cache lifetime ahead, and revokes their refresh tokens', async () => {
    const tokens = await login('erin', 'erin-password');
    const { sub } = claimsOf(tokens.access_token);

    await auth.services.users.disable('erin');

    const res = await getFeed();
    const feed = res.body as Feed;
    expect(feed.revoked.sub).toEqual({ [revocationDigest('sub', sub)]: nowSeconds() + marginSeconds });
    // The feed is public: it never names the user.
    expect(res.text).not.toContain(sub);
    const row = await auth.services.storage.refreshTokens.find(digestRefreshToken(tokens.refresh_token));
    expect(row!.revokedAt).toBe(auth.clock.now());
  });

  it('a token signed just after the user was disabled (a password grant already past its check) is refused', async () => {
    await auth.services.users.create({ username: 'frank', password: 'frank-password', scopes: 'notes:read' });
    const tokens = await login('frank', 'frank-password');
    const { sub } = claimsOf(tokens.access_token);
    await auth.services.users.disable('frank');
    // A grant that read the user before the update signs a moment later, with a later iat.
    auth.clock.advance((marginSeconds - 1) * 1000);
    const late = await auth.services.accessTokens.issue({
      sub,
      clientId: 'app',
      scope: ['notes:read'],
      audience: ['https://api.test'],
    });
    const introspection = await postAsClient(auth, '/oauth/introspect', 'app', appSecret, [
      'token',
      late.token,
    ]);
    expect(introspection.body).toEqual({ active: false });
  });

  it('deleting a client lists it under client_id and deletes its refresh tokens', async () => {
    const secret = await createClientFor(auth, {
      clientId: 'temp',
      grants: 'password,refresh_token',
      scopes: 'notes:read',
    });
    const tokens = await login('alice', 'alice-password', 'temp', secret);

    await auth.services.clients.delete('temp');

    const res = await getFeed();
    const feed = res.body as Feed;
    // The cut-off lies one client-cache lifetime ahead: tokens a replica still issues to the
    // deleted client from its cache are refused too.
    expect(feed.revoked.client_id).toEqual({
      [revocationDigest('client_id', 'temp')]: nowSeconds() + marginSeconds,
    });
    expect(res.text).not.toContain('"temp"');
    expect(
      await auth.services.storage.refreshTokens.find(digestRefreshToken(tokens.refresh_token)),
    ).toBeUndefined();
  });

  // Client ids may be any of A-Z a-z 0-9 . _ ~ -, so "__proto__" is a valid one. Assigning it
  // as a key of a plain object sets the prototype instead of adding an entry.
  it('a client whose id is "__proto__" is listed once deleted, and its tokens are no longer active', async () => {
    const secret = await createClientFor(auth, {
      clientId: '__proto__',
      grants: 'client_credentials',
      scopes: 'notes:read',
    });
    const issued = await postAsClient(auth, '/oauth/token', '__proto__', secret, [
      'grant_type',
      'client_credentials',
    ]);
    expect(issued.status).toBe(200);

    await auth.services.clients.delete('__proto__');

    const stored = await auth.services.storage.revocations.listActive(nowSeconds());
    expect(stored.map((entry) => `${entry.kind}:${entry.value}`)).toContain('client_id:__proto__');
    const feed = JSON.parse((await getFeed()).text) as Feed;
    const introspection = await postAsClient(auth, '/oauth/introspect', 'app', appSecret, [
      'token',
      issued.body.access_token as string,
    ]);
    expect({
      listed: feedEntry(feed, 'client_id', '__proto__') !== undefined,
      introspection: introspection.body,
    }).toEqual({ listed: true, introspection: { active: false } });
  });

  describe('entries leave the feed once every token they match has expired', () => {
    it('a revoked access token stays until its exp + 300 s (the largest verifier clock tolerance), a family until now + access TTL + 300 s', async () => {
      // Start from a feed emptied of the entries above (cut-offs last a client-cache lifetime longer).
      auth.clock.advance((accessTtlSeconds + retentionSeconds + marginSeconds + 1) * 1000);
      const empty = await getFeed();
      expect(empty.body).toEqual({
        generated_at: nowSeconds(),
        key_set: auth.services.keys.jwks().etag,
        revoked: emptyLists,
      });

      // A client_credentials token has no family: it is listed by its jti.
      const issued = await postAsClient(auth, '/oauth/token', 'app', appSecret, [
        'grant_type',
        'client_credentials',
      ]);
      const { jti, exp } = claimsOf(issued.body.access_token as string);
      await revoke(issued.body.access_token as string);
      auth.clock.advance(10_000);
      const tokens = await login();
      const { sid } = claimsOf(tokens.access_token);
      await revoke(tokens.refresh_token);
      const familyRevokedAt = nowSeconds();

      const both = (await getFeed()).body as Feed;
      expect(feedEntry(both, 'jti', jti)).toBe(true);
      expect(feedEntry(both, 'sid', sid!)).toBe(true);

      // The jti entry: until exp + 300 s (exclusive); a verifier allowing 300 s of skew accepts
      // the token until then.
      auth.clock.set((exp + retentionSeconds - 1) * 1000);
      expect(feedEntry((await getFeed()).body as Feed, 'jti', jti)).toBe(true);
      auth.clock.set((exp + retentionSeconds) * 1000);
      const afterJti = (await getFeed()).body as Feed;
      expect(feedEntry(afterJti, 'jti', jti)).toBeUndefined();
      expect(feedEntry(afterJti, 'sid', sid!)).toBe(true);

      // The sid entry: until the revocation time + access TTL + 300 s.
      auth.clock.set((familyRevokedAt + accessTtlSeconds + retentionSeconds - 1) * 1000);
      expect(feedEntry((await getFeed()).body as Feed, 'sid', sid!)).toBe(true);
      auth.clock.set((familyRevokedAt + accessTtlSeconds + retentionSeconds) * 1000);
      const gone = await getFeed();
      expect((gone.body as Feed).revoked).toEqual(emptyLists);
      // Same entries, same ETag: a resource server holding the empty feed gets a 304.
      expect(gone.headers.etag).toBe(empty.headers.etag);
    });
  });
});
