import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { revocationDigest } from '@tessera/shared';
import request from 'supertest';
import { accessTokenType } from '../src/grants/token-exchange.js';
import {
  createCheapHasher,
  createClientFor,
  createTestAuth,
  decodeClaims,
  expectError,
  postAsClient,
  type TestAuth,
} from './helpers.js';

const notes = 'https://notes.test';
const archive = 'https://archive.test';
const billing = 'https://billing.test';
const grantType = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Token exchange (RFC 8693) for delegation, on a real auth server app over SQLite. */
describe('token exchange: a service calls another on a user’s behalf', () => {
  let auth: TestAuth;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    auth = await createTestAuth({ TOKEN_EXCHANGE_MAX_DEPTH: '2' }, { hasher: await createCheapHasher() });
    // The services: each the server of its resource, each allowed to call the next one.
    const services: [string, string, string][] = [
      ['notes-svc', 'token_exchange', archive],
      ['archive-svc', 'token_exchange', `${billing},${notes}`],
      ['billing-svc', 'token_exchange', notes],
      // A service that may not exchange (client_credentials only).
      ['plain-svc', 'client_credentials', archive],
    ];
    for (const [clientId, grants] of services)
      secrets[clientId] = await createClientFor(auth, { clientId, grants, scopes: '', resources: '' });
    await auth.services.resources.create({
      uri: notes,
      scopes: 'notes:read notes:write',
      serverClientId: 'notes-svc',
    });
    await auth.services.resources.create({
      uri: archive,
      scopes: 'notes:read',
      serverClientId: 'archive-svc',
    });
    await auth.services.resources.create({
      uri: billing,
      scopes: 'notes:read',
      serverClientId: 'billing-svc',
    });
    for (const [clientId, , resources] of services)
      await auth.services.clients.setResources(clientId, resources);
    secrets.web = await createClientFor(auth, {
      clientId: 'web',
      grants: 'password,refresh_token',
      scopes: 'notes:read notes:write',
      resources: `${notes},${archive}`,
    });
    await auth.services.users.create({
      username: 'alice',
      password: 'alice-password',
      scopes: 'notes:read notes:write',
    });
  });
  afterAll(async () => {
    await auth.close();
  });

  const post = (clientId: string, ...pairs: [string, string][]) =>
    postAsClient(auth, '/oauth/token', clientId, secrets[clientId]!, ...pairs);
  const userToken = async (resource = notes) => {
    const res = await post(
      'web',
      ['grant_type', 'password'],
      ['username', 'alice'],
      ['password', 'alice-password'],
      ['resource', resource],
    );
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string };
  };
  const exchange = (clientId: string, subjectToken: string, ...pairs: [string, string][]) =>
    post(
      clientId,
      ['grant_type', grantType],
      ['subject_token', subjectToken],
      ['subject_token_type', accessTokenType],
      ...pairs,
    );

  it('issues a token for the target with the user as sub, the actor as client_id and act', async () => {
    const subject = (await userToken()).access_token;
    const res = await exchange('notes-svc', subject, ['resource', archive]);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      issued_token_type: accessTokenType,
      scope: 'notes:read',
    });
    expect(res.body.refresh_token).toBeUndefined();
    const before = decodeClaims<Record<string, unknown>>(subject);
    const after = decodeClaims<Record<string, unknown>>(res.body.access_token as string);
    expect(after).toMatchObject({
      sub: before.sub,
      client_id: 'notes-svc',
      aud: archive,
      act: { sub: 'notes-svc' },
      scope: 'notes:read',
      sid: before.sid,
    });
    expect(after.exp as number).toBeLessThanOrEqual(before.exp as number);
  });

  it('never outlives the subject token', async () => {
    const subject = (await userToken()).access_token;
    auth.clock.advance(10 * 60 * 1000);
    try {
      const res = await exchange('notes-svc', subject, ['resource', archive]);
      expect(res.status).toBe(200);
      const exp = decodeClaims<{ exp: number }>(subject).exp;
      expect(decodeClaims<{ exp: number }>(res.body.access_token as string).exp).toBe(exp);
      expect(res.body.expires_in).toBe(exp - Math.floor(auth.clock.now() / 1000));
    } finally {
      auth.clock.advance(-10 * 60 * 1000);
    }
  });

  it('nests act when an exchanged token is exchanged again, up to TOKEN_EXCHANGE_MAX_DEPTH actors', async () => {
    const first = await exchange('notes-svc', (await userToken()).access_token, ['resource', archive]);
    const second = await exchange('archive-svc', first.body.access_token as string, ['resource', billing]);
    expect(second.status).toBe(200);
    expect(decodeClaims(second.body.access_token as string)).toMatchObject({
      client_id: 'archive-svc',
      act: { sub: 'archive-svc', act: { sub: 'notes-svc' } },
    });
    const third = await exchange('billing-svc', second.body.access_token as string, ['resource', notes]);
    // RFC 8693 §2.2.2: a subject token unacceptable by policy is invalid_request.
    expectError(third, 400, 'invalid_request');
    expect(third.body.error_description).toContain('at most 2 actors');
  });

  describe('policy refusals', () => {
    it('a client not registered for the grant: unauthorized_client', async () => {
      expectError(
        await exchange('plain-svc', (await userToken()).access_token, ['resource', archive]),
        400,
        'unauthorized_client',
      );
    });

    it('a subject token for a resource the client does not serve: invalid_request (RFC 8693 §2.2.2)', async () => {
      // archive-svc serves the archive, not the notes API: it never received this token legitimately.
      const res = await exchange('archive-svc', (await userToken()).access_token, ['resource', billing]);
      expectError(res, 400, 'invalid_request');
    });

    it('a target the client may not ask for: invalid_target', async () => {
      const subject = (await userToken()).access_token;
      expectError(await exchange('notes-svc', subject, ['resource', billing]), 400, 'invalid_target');
      expectError(
        await exchange('notes-svc', subject, ['resource', 'https://unknown.test']),
        400,
        'invalid_target',
      );
    });

    it('audience (RFC 8693 §2.1) names a target like resource: never silently another one', async () => {
      const subject = (await userToken()).access_token;
      // notes-svc may ask only for the archive: an audience it may not have is invalid_target,
      // not a token for its default resource.
      expectError(await exchange('notes-svc', subject, ['audience', billing]), 400, 'invalid_target');
      const named = await exchange('notes-svc', subject, ['audience', archive]);
      expect(named.status).toBe(200);
      expect(decodeClaims(named.body.access_token as string)).toMatchObject({ aud: archive });
    });

    it('a scope beyond the subject token’s or the target’s: invalid_scope', async () => {
      const narrow = (
        await post(
          'web',
          ['grant_type', 'password'],
          ['username', 'alice'],
          ['password', 'alice-password'],
          ['resource', notes],
          ['scope', 'notes:write'],
        )
      ).body.access_token as string;
      // The archive understands notes:read, but the subject token does not carry it.
      expectError(
        await exchange('notes-svc', narrow, ['resource', archive], ['scope', 'notes:read']),
        400,
        'invalid_scope',
      );
      const full = (await userToken()).access_token;
      // The subject carries notes:write, but the archive does not understand it.
      expectError(
        await exchange('notes-svc', full, ['resource', archive], ['scope', 'notes:write']),
        400,
        'invalid_scope',
      );
    });

    it('a revoked subject token: invalid_request', async () => {
      const { access_token: subject, refresh_token: refresh } = await userToken();
      const revoked = await postAsClient(auth, '/oauth/revoke', 'web', secrets.web!, ['token', refresh]);
      expect(revoked.status).toBe(200);
      expectError(await exchange('notes-svc', subject, ['resource', archive]), 400, 'invalid_request');
    });

    it('an expired or forged subject token: invalid_request', async () => {
      const subject = (await userToken()).access_token;
      const [h, , s] = subject.split('.');
      const forged = [
        h,
        Buffer.from(JSON.stringify({ ...decodeClaims(subject), sub: 'mallory' })).toString('base64url'),
        s,
      ].join('.');
      expectError(await exchange('notes-svc', forged, ['resource', archive]), 400, 'invalid_request');
      auth.clock.advance(16 * 60 * 1000);
      try {
        expectError(await exchange('notes-svc', subject, ['resource', archive]), 400, 'invalid_request');
      } finally {
        auth.clock.advance(-16 * 60 * 1000);
      }
    });

    it('a wrong or missing subject_token_type, or an actor_token: invalid_request', async () => {
      const subject = (await userToken()).access_token;
      const base: [string, string][] = [
        ['grant_type', grantType],
        ['subject_token', subject],
        ['resource', archive],
      ];
      expectError(await post('notes-svc', ...base), 400, 'invalid_request');
      expectError(
        await post('notes-svc', ...base, [
          'subject_token_type',
          'urn:ietf:params:oauth:token-type:refresh_token',
        ]),
        400,
        'invalid_request',
      );
      expectError(
        await post('notes-svc', ...base, ['subject_token_type', accessTokenType], ['actor_token', subject]),
        400,
        'invalid_request',
      );
    });
  });

  it('deleting the client the user signed in with revokes the tokens exchanged from its tokens', async () => {
    secrets.gone = await createClientFor(auth, {
      clientId: 'gone',
      grants: 'password,refresh_token,client_credentials',
      scopes: 'notes:read',
      resources: notes,
    });
    const login = await post(
      'gone',
      ['grant_type', 'password'],
      ['username', 'alice'],
      ['password', 'alice-password'],
    );
    const own = await post('gone', ['grant_type', 'client_credentials']);
    const exchanged = await Promise.all(
      [login, own].map((res) =>
        exchange('notes-svc', res.body.access_token as string, ['resource', archive]),
      ),
    );
    const claims = exchanged.map((res) =>
      decodeClaims<Record<string, unknown>>(res.body.access_token as string),
    );
    for (const c of claims) {
      expect(c.client_id).toBe('notes-svc');
      expect(await auth.services.revocations.isRevoked(c)).toBe(false);
    }
    await auth.services.clients.delete('gone');
    // The user session's family (sid) and the client's own id as a subject (sub) are cut off.
    for (const c of claims) expect(await auth.services.revocations.isRevoked(c)).toBe(true);
    // The feed resource servers poll says so too.
    const feed = (await request(auth.app).get('/oauth/revocations')).body as {
      revoked: Record<string, unknown>;
    };
    expect(JSON.stringify(feed.revoked)).toContain(revocationDigest('sid', claims[0]!.sid as string));
  });

  it('is advertised in the metadata', async () => {
    const res = await request(auth.app).get('/.well-known/oauth-authorization-server');
    expect(res.body.grant_types_supported).toContain(grantType);
  });

  it('the CLI name token_exchange registers the grant; a public client may not have it', async () => {
    const { client } = await auth.services.clients.create({
      clientId: 'cli-te',
      grants: 'token_exchange',
      scopes: '',
      isPublic: false,
    });
    expect(client.grants).toEqual([grantType]);
    await expect(
      auth.services.clients.create({
        clientId: 'pub-te',
        grants: 'token_exchange',
        scopes: '',
        isPublic: true,
      }),
    ).rejects.toThrow('public client cannot exchange');
  });
});
