import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import request from 'supertest';
import type { UserRecord } from '../src/storage/storage.js';
import {
  basic,
  createClientFor,
  createPublicClientFor,
  createTestAuth,
  expectError,
  expectInvalidClient,
  form,
  testResource,
  type TestAuth,
} from './helpers.js';

let auth: TestAuth;
let webSecret: string;
let svcSecret: string;
let alice: UserRecord;

const alicePassword = 'correct horse battery staple';

beforeAll(async () => {
  auth = await createTestAuth();
  webSecret = await createClientFor(auth, {
    clientId: 'web',
    grants: 'password',
    scopes: 'notes:read notes:write profile',
  });
  svcSecret = await createClientFor(auth, {
    clientId: 'svc',
    grants: 'client_credentials',
    scopes: 'notes:read',
  });
  await createPublicClientFor(auth, { clientId: 'spa', grants: 'password', scopes: 'notes:read' });
  alice = await auth.services.users.create({
    username: 'alice',
    password: alicePassword,
    scopes: 'notes:read notes:write admin',
  });
  await auth.services.users.create({
    username: 'mallory',
    password: 'mallory-password',
    scopes: 'notes:read',
  });
  await auth.services.users.disable('mallory');
});

afterAll(async () => {
  await auth.close();
});

const pw = (username: string, password: string, ...extra: [string, string][]) =>
  form(['grant_type', 'password'], ['username', username], ['password', password], ...extra);

function tokenRequest() {
  return request(auth.app).post('/oauth/token').type('form');
}

async function verify(token: string) {
  const res = await request(auth.app).get('/.well-known/jwks.json').expect(200);
  return jwtVerify(token, createLocalJWKSet(JSON.parse(res.text) as JSONWebKeySet), {
    issuer: 'http://auth.test',
    audience: testResource,
    typ: 'at+jwt',
    algorithms: ['RS256'],
    currentDate: new Date(auth.clock.now()),
  });
}

describe('password grant: success', () => {
  test('with client_secret_basic, the default scope is client scopes ∩ user scopes and sub is the user id', async () => {
    const res = await tokenRequest()
      .set('Authorization', basic('web', webSecret))
      .send(pw('alice', alicePassword));

    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['pragma']).toBe('no-cache');
    expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    // web: notes:read notes:write profile; alice: notes:read notes:write admin.
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'notes:read notes:write',
    });

    const { payload, protectedHeader } = await verify(res.body.access_token as string);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(payload).toMatchObject({
      iss: 'http://auth.test',
      sub: alice.id,
      aud: testResource,
      client_id: 'web',
      scope: 'notes:read notes:write',
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
    expect(typeof payload.jti).toBe('string');
  });

  test('with client_secret_post, the same answer', async () => {
    const res = await tokenRequest().send(
      pw('alice', alicePassword, ['client_id', 'web'], ['client_secret', webSecret]),
    );
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'notes:read notes:write',
    });
  });

  test('a narrower requested scope is granted as asked', async () => {
    const res = await tokenRequest()
      .set('Authorization', basic('web', webSecret))
      .send(pw('alice', alicePassword, ['scope', 'notes:read']));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('notes:read');
    const { payload } = await verify(res.body.access_token as string);
    expect(payload.scope).toBe('notes:read');
  });

  test('the username is compared after NFC normalisation', async () => {
    await auth.services.users.create({ username: 'zoë', password: 'zoe-password', scopes: 'notes:read' });
    const decomposed = 'zoe\u0308';
    expect(decomposed).not.toBe('zoë');
    const res = await tokenRequest()
      .set('Authorization', basic('web', webSecret))
      .send(pw(decomposed, 'zoe-password'));
    expect(res.status).toBe(200);
  });

  test('a public client authenticates with its client_id alone', async () => {
    const res = await tokenRequest().send(pw('alice', alicePassword, ['client_id', 'spa']));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('notes:read');
    const { payload } = await verify(res.body.access_token as string);
    expect(payload).toMatchObject({ sub: alice.id, client_id: 'spa' });
  });
});

describe('password grant: scope errors', () => {
  test('when the requested scope is held by the client but not the user, 400 invalid_scope', async () => {
    const res = await tokenRequest()
      .set('Authorization', basic('web', webSecret))
      .send(pw('alice', alicePassword, ['scope', 'notes:read profile']));
    expectError(res, 400, 'invalid_scope');
  });

  test('when the requested scope is held by the user but not the client, 400 invalid_scope', async () => {
    const res = await tokenRequest()
      .set('Authorization', basic('web', webSecret))
      .send(pw('alice', alicePassword, ['scope', 'admin']));
    expectError(res, 400, 'invalid_scope');
  });

  test('when the scope is malformed, 400 invalid_scope', async () => {
    const res = await tokenRequest()
      .set('Authorization', basic('web', webSecret))
      .send(pw('alice', alicePassword, ['scope', 'notes:read\\']));
    expectError(res, 400, 'invalid_scope');
  });
});

describe('password grant: failures', () => {
  test('a wrong password, an unknown user and a disabled user get the identical 400 invalid_grant', async () => {
    const send = (username: string, password: string) =>
      tokenRequest().set('Authorization', basic('web', webSecret)).send(pw(username, password));
    const wrongPassword = await send('alice', 'not-the-password');
    const unknownUser = await send('nobody', 'not-the-password');
    const disabledUser = await send('mallory', 'mallory-password');

    for (const res of [wrongPassword, unknownUser, disabledUser]) {
      expectError(res, 400, 'invalid_grant');
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    expect(unknownUser.body).toEqual(wrongPassword.body);
    expect(disabledUser.body).toEqual(wrongPassword.body);
    expect(unknownUser.text).toBe(wrongPassword.text);
    expect(disabledUser.text).toBe(wrongPassword.text);
  });

  test('a disabled user stays disabled in the store after the failed attempt', async () => {
    const stored = await auth.services.storage.users.findByUsername('mallory');
    expect(stored?.disabled).toBe(true);
  });

  test.each([
    ['username', form(['grant_type', 'password'], ['password', alicePassword])],
    ['password', form(['grant_type', 'password'], ['username', 'alice'])],
    ['password (sent empty)', pw('alice', '')],
  ])('when %s is missing, 400 invalid_request', async (what, body) => {
    const res = await tokenRequest().set('Authorization', basic('web', webSecret)).send(body);
    expectError(res, 400, 'invalid_request');
    expect(res.body.error_description).toContain(what.split(' ')[0]);
  });

  test('when the password is longer than 1024 characters, 400 invalid_request', async () => {
    const res = await tokenRequest()
      .set('Authorization', basic('web', webSecret))
      .send(pw('alice', 'x'.repeat(1025)));
    expectError(res, 400, 'invalid_request');
  });

  test('when a public client also sends a secret, 401 invalid_client', async () => {
    const res = await tokenRequest().send(
      pw('alice', alicePassword, ['client_id', 'spa'], ['client_secret', 'anything']),
    );
    expectInvalidClient(res);
  });

  test('when a public client uses Basic with an empty secret, 401 invalid_client', async () => {
    const res = await tokenRequest().set('Authorization', basic('spa', '')).send(pw('alice', alicePassword));
    expectInvalidClient(res);
  });

  test('when a confidential client omits its secret, 401 invalid_client', async () => {
    const res = await tokenRequest().send(pw('alice', alicePassword, ['client_id', 'web']));
    expectInvalidClient(res);
  });

  test('when the client is not registered for the password grant, 400 unauthorized_client', async () => {
    const res = await tokenRequest()
      .set('Authorization', basic('svc', svcSecret))
      .send(pw('alice', alicePassword));
    expectError(res, 400, 'unauthorized_client');
  });

  test('when the password is sent in the query string, 400 invalid_request', async () => {
    const res = await request(auth.app)
      .post(`/oauth/token?password=${encodeURIComponent(alicePassword)}`)
      .type('form')
      .set('Authorization', basic('web', webSecret))
      .send(form(['grant_type', 'password'], ['username', 'alice']));
    expectError(res, 400, 'invalid_request');
  });

  test('when username is repeated, 400 invalid_request', async () => {
    const res = await tokenRequest()
      .set('Authorization', basic('web', webSecret))
      .send(pw('alice', alicePassword, ['username', 'mallory']));
    expectError(res, 400, 'invalid_request');
  });
});
