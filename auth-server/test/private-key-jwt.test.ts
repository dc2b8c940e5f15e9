import { createHash, createHmac, randomUUID, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { SignJWT, exportJWK, type JWTPayload } from 'jose';
import request from 'supertest';
import { clientAssertion, jwtBearerClientAssertionType, newKeyPairSync } from '@tessera/shared';
import {
  basic,
  createClientFor,
  createTestAuth,
  decodeClaims,
  expectError,
  expectInvalidClient,
  form,
  type TestAuth,
  testResource,
} from './helpers.js';

/**
 * private_key_jwt client authentication (RFC 7523 §2.2, RFC 7521 §4.2) at the token,
 * revocation and introspection endpoints, with the audience rules of draft-ietf-oauth-rfc7523bis.
 * Real keys, real signatures (jose), a real SQLite store; the server's clock is fixed.
 */
const issuer = 'http://auth.test';
const rsa = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const ec = newKeyPairSync({ type: 'ec', namedCurve: 'P-256' });
const foreign = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const next = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });

async function publicJwk(key: KeyObject, kid: string) {
  return { ...(await exportJWK(key)), kid };
}

let auth: TestAuth;
let svcSecret: string;

beforeAll(async () => {
  // Many requests from one address: the per-IP budget is not what these tests are about.
  auth = await createTestAuth({ RATE_LIMIT_IP: '100000/1m' });
  await auth.services.clients.create({
    resources: testResource,
    clientId: 'svc-key',
    grants: 'client_credentials,password,refresh_token',
    scopes: 'notes:read notes:write',
    isPublic: false,
    jwks: { keys: [await publicJwk(rsa.publicKey, 'rsa-1'), await publicJwk(ec.publicKey, 'ec-1')] },
  });
  // svc-key is also the resource's own server, so introspection answers it (RFC 7662 §4).
  await auth.services.resources.update(testResource, { serverClientId: 'svc-key' });
  svcSecret = await createClientFor(auth, {
    clientId: 'svc-secret',
    grants: 'client_credentials',
    scopes: 'notes:read',
  });
  await auth.services.users.create({ username: 'ada', password: 'ada-password-1', scopes: 'notes:read' });
});

afterAll(async () => {
  await auth.close();
});

const nowSeconds = () => Math.floor(auth.clock.now() / 1000);

/** The shared helper's assertion, as a service builds it. */
const helperAssertion = (options: { kid?: string; privateKey?: KeyObject; clientId?: string } = {}) =>
  clientAssertion({
    clientId: options.clientId ?? 'svc-key',
    issuer,
    privateKey: options.privateKey ?? rsa.privateKey,
    kid: options.kid ?? 'rsa-1',
    clock: auth.clock,
  });

/** An assertion with chosen header and claims (undefined removes a claim), for the refusals. */
async function craftedAssertion(
  options: {
    header?: Record<string, unknown>;
    claims?: Record<string, unknown>;
    key?: KeyObject;
  } = {},
): Promise<string> {
  const claims: JWTPayload = {
    iss: 'svc-key',
    sub: 'svc-key',
    aud: issuer,
    iat: nowSeconds(),
    exp: nowSeconds() + 60,
    jti: randomUUID(),
    ...options.claims,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1', ...options.header })
    .sign(options.key ?? rsa.privateKey);
}

/** A JWT whose signature is made by hand (for `none` and HMAC, which jose will not sign with an RSA key). */
function handSigned(header: Record<string, unknown>, sign: (input: string) => string): string {
  const claims = {
    iss: 'svc-key',
    sub: 'svc-key',
    aud: issuer,
    exp: nowSeconds() + 60,
    jti: randomUUID(),
  };
  const input = [header, claims]
    .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
    .join('.');
  return `${input}.${sign(input)}`;
}

const post = (path: string, ...pairs: [string, string][]) =>
  request(auth.app)
    .post(path)
    .type('form')
    .send(form(...pairs));

const withAssertion = (assertion: string): [string, string][] => [
  ['client_assertion_type', jwtBearerClientAssertionType],
  ['client_assertion', assertion],
];

const clientCredentials = (assertion: string) =>
  post('/oauth/token', ['grant_type', 'client_credentials'], ...withAssertion(assertion));

describe('a client registered with keys gets tokens with private_key_jwt', () => {
  test('client_credentials with the shared helper’s RS256 assertion: 200, the token is the client’s', async () => {
    const params = await helperAssertion();
    const res = await post('/oauth/token', ['grant_type', 'client_credentials'], ...Object.entries(params));
    expect(res.status).toBe(200);
    expect(decodeClaims(res.body.access_token)).toMatchObject({ sub: 'svc-key', client_id: 'svc-key' });
  });

  test('an ES256 assertion by the client’s EC key, and one without kid (the key found by alg)', async () => {
    const es = await helperAssertion({ privateKey: ec.privateKey, kid: 'ec-1' });
    expect((await clientCredentials(es.client_assertion)).status).toBe(200);
    const noKid = await craftedAssertion({ header: { kid: undefined } });
    expect((await clientCredentials(noKid)).status).toBe(200);
  });

  test('exp exactly 5 minutes ahead is accepted (the limit, not beyond)', async () => {
    const res = await clientCredentials(await craftedAssertion({ claims: { exp: nowSeconds() + 300 } }));
    expect(res.status).toBe(200);
  });

  test('typ JWT (what many libraries set) and a body client_id equal to the assertion’s are accepted', async () => {
    const res = await post(
      '/oauth/token',
      ['grant_type', 'client_credentials'],
      ['client_id', 'svc-key'],
      ...withAssertion(await craftedAssertion({ header: { typ: 'JWT' } })),
    );
    expect(res.status).toBe(200);
  });

  test('password, then refresh_token, each with a fresh assertion', async () => {
    const login = await post(
      '/oauth/token',
      ['grant_type', 'password'],
      ['username', 'ada'],
      ['password', 'ada-password-1'],
      ...withAssertion((await helperAssertion()).client_assertion),
    );
    expect(login.status).toBe(200);
    expect(decodeClaims(login.body.access_token)).toMatchObject({ client_id: 'svc-key' });
    const refreshed = await post(
      '/oauth/token',
      ['grant_type', 'refresh_token'],
      ['refresh_token', login.body.refresh_token],
      ...withAssertion((await helperAssertion()).client_assertion),
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(login.body.refresh_token);
  });

  test('introspection and revocation authenticate the client the same way', async () => {
    const issued = await clientCredentials((await helperAssertion()).client_assertion);
    const token = issued.body.access_token as string;
    const introspected = await post(
      '/oauth/introspect',
      ['token', token],
      ...withAssertion((await helperAssertion()).client_assertion),
    );
    expect(introspected.status).toBe(200);
    expect(introspected.body).toMatchObject({ active: true, client_id: 'svc-key' });
    const revoked = await post(
      '/oauth/revoke',
      ['token', token],
      ...withAssertion((await helperAssertion()).client_assertion),
    );
    expect(revoked.status).toBe(200);
    const after = await post(
      '/oauth/introspect',
      ['token', token],
      ...withAssertion((await helperAssertion()).client_assertion),
    );
    expect(after.body).toEqual({ active: false });
    // A refused assertion at introspection is the same 401 as at the token endpoint.
    expectInvalidClient(
      await post(
        '/oauth/introspect',
        ['token', token],
        ...withAssertion(await craftedAssertion({ key: foreign.privateKey })),
      ),
    );
  });

  test('the RFC 8414 metadata advertises private_key_jwt and its algorithms for every endpoint', async () => {
    const { body } = await request(auth.app).get('/.well-known/oauth-authorization-server');
    for (const endpoint of ['token', 'revocation', 'introspection']) {
      expect(body[`${endpoint}_endpoint_auth_methods_supported`]).toContain('private_key_jwt');
      expect(body[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toEqual(['RS256', 'ES256']);
    }
  });
});

describe('an assertion is accepted once', () => {
  test('replayed at once: 401 invalid_client, and the first use is recorded (as a digest, not the jti)', async () => {
    const { client_assertion: assertion } = await helperAssertion();
    expect((await clientCredentials(assertion)).status).toBe(200);
    const replay = await clientCredentials(assertion);
    expectInvalidClient(replay);
    expect(replay.body.error_description).toBe('client assertion already used');
    // Audited for operators (a copy taken in transit looks like this), with the client, not the assertion.
    const audited = auth.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.event === 'client.assertion_replayed');
    expect(audited.at(-1)).toMatchObject({ client_id: 'svc-key', level: 40 });
    // The same assertion at another endpoint is the same replay.
    expectInvalidClient(await post('/oauth/revoke', ['token', 'x'], ...withAssertion(assertion)));
    // The store holds the digest of (client_id, jti) until the assertion expires: claiming it again fails.
    const { jti } = decodeClaims<{ jti: string }>(assertion);
    const key = createHash('sha256').update(`svc-key\0${jti}`).digest('hex');
    const now = auth.clock.now();
    expect(await auth.services.storage.assertionJtis.claim(key, now + 1000, now)).toBe(false);
  });

  test('a refused assertion does not use up its jti; the same jti with a valid assertion then works once', async () => {
    const jti = randomUUID();
    expectInvalidClient(
      await clientCredentials(await craftedAssertion({ claims: { jti, aud: `${issuer}/oauth/token` } })),
    );
    expect((await clientCredentials(await craftedAssertion({ claims: { jti } }))).status).toBe(200);
    expectInvalidClient(await clientCredentials(await craftedAssertion({ claims: { jti } })));
  });
});

describe('refused assertions: 401 invalid_client (RFC 6749 §5.2, RFC 7521 §4.2.1)', () => {
  /** The refusal, what it is made of, and the description (generic until the signature verifies). */
  const cases: [string, () => Promise<string>, string?][] = [
    [
      'aud is the token endpoint URL',
      () => craftedAssertion({ claims: { aud: `${issuer}/oauth/token` } }),
      'client assertion aud must be exactly the issuer identifier, as a string',
    ],
    [
      'aud is an array with the issuer and another audience',
      () => craftedAssertion({ claims: { aud: [issuer, 'https://attacker.example'] } }),
      'client assertion aud must be exactly the issuer identifier, as a string',
    ],
    [
      'aud is an array, even of the issuer alone',
      () => craftedAssertion({ claims: { aud: [issuer] } }),
      'client assertion aud must be exactly the issuer identifier, as a string',
    ],
    [
      'aud is another server',
      () => craftedAssertion({ claims: { aud: 'https://other.example' } }),
      'client assertion aud must be exactly the issuer identifier, as a string',
    ],
    [
      'aud is missing',
      () => craftedAssertion({ claims: { aud: undefined } }),
      'client assertion has no aud claim',
    ],
    [
      'expired',
      () => craftedAssertion({ claims: { iat: nowSeconds() - 600, exp: nowSeconds() - 120 } }),
      'client assertion expired',
    ],
    [
      'exp more than 5 minutes ahead',
      () => craftedAssertion({ claims: { exp: nowSeconds() + 301 + 30 + 60 } }),
      'client assertion exp must be at most 300 seconds ahead',
    ],
    [
      'exp missing',
      () => craftedAssertion({ claims: { exp: undefined } }),
      'client assertion has no exp claim',
    ],
    [
      'jti missing',
      () => craftedAssertion({ claims: { jti: undefined } }),
      'client assertion has no jti claim',
    ],
    [
      'jti not a string',
      () => craftedAssertion({ claims: { jti: 42 } }),
      'client assertion jti claim is not acceptable',
    ],
    [
      'nbf in the future',
      () => craftedAssertion({ claims: { nbf: nowSeconds() + 120 } }),
      'client assertion nbf claim is not acceptable',
    ],
    [
      'iat in the future',
      () => craftedAssertion({ claims: { iat: nowSeconds() + 120 } }),
      'client assertion iat claim is not acceptable',
    ],
    [
      'iss is not the client',
      () => craftedAssertion({ claims: { iss: 'someone-else' } }),
      'client assertion iss and sub must both be the client_id',
    ],
    [
      'sub is not the client',
      () => craftedAssertion({ claims: { sub: 'svc-secret' } }),
      'client assertion iss and sub must both be the client_id',
    ],
    [
      'signed with a key not registered, under a registered kid',
      () => craftedAssertion({ key: foreign.privateKey }),
    ],
    [
      'signed with a key not registered, without kid',
      () => craftedAssertion({ key: foreign.privateKey, header: { kid: undefined } }),
    ],
    ['an unknown kid', () => craftedAssertion({ header: { kid: 'rsa-9' } })],
    [
      'alg ES256 under the RSA key’s kid (the key decides the alg)',
      () => craftedAssertion({ key: ec.privateKey, header: { alg: 'ES256', kid: 'rsa-1' } }),
    ],
    ['alg PS256 by the registered RSA key', () => craftedAssertion({ header: { alg: 'PS256' } })],
    ['alg none', async () => handSigned({ alg: 'none', kid: 'rsa-1' }, () => '')],
    [
      'alg HS256 keyed with the public key',
      async () => {
        const secret = JSON.stringify(await publicJwk(rsa.publicKey, 'rsa-1'));
        return handSigned({ alg: 'HS256', kid: 'rsa-1' }, (input) =>
          createHmac('sha256', secret).update(input).digest('base64url'),
        );
      },
    ],
    [
      'typ names another kind of JWT (an access token)',
      () => craftedAssertion({ header: { typ: 'at+jwt' } }),
    ],
    ['not a JWT at all', async () => 'not.a.jwt', 'malformed client assertion'],
    [
      'a client that authenticates with a secret',
      () => craftedAssertion({ claims: { iss: 'svc-secret', sub: 'svc-secret' } }),
    ],
    ['an unknown client', () => craftedAssertion({ claims: { iss: 'nobody', sub: 'nobody' } })],
  ];
  test.each(cases)('%s', async (_name, make, description = 'client authentication failed') => {
    const res = await clientCredentials(await make());
    expectInvalidClient(res);
    expect(res.body.error_description).toBe(description);
  });

  test('before the signature verifies, the description reveals nothing (not whether the client or key exists)', async () => {
    const descriptions = await Promise.all(
      [
        craftedAssertion({ key: foreign.privateKey }),
        craftedAssertion({ header: { kid: 'rsa-9' } }),
        craftedAssertion({ claims: { iss: 'nobody', sub: 'nobody' } }),
        craftedAssertion({ claims: { iss: 'svc-secret', sub: 'svc-secret' } }),
      ].map(async (assertion) => (await clientCredentials(await assertion)).body.error_description as string),
    );
    expect(new Set(descriptions)).toEqual(new Set(['client authentication failed']));
  });

  test('a body client_id other than the assertion’s is refused', async () => {
    const res = await post(
      '/oauth/token',
      ['grant_type', 'client_credentials'],
      ['client_id', 'svc-secret'],
      ...withAssertion(await craftedAssertion()),
    );
    expectInvalidClient(res);
  });

  test('an unsupported client_assertion_type is invalid_client', async () => {
    const res = await post(
      '/oauth/token',
      ['grant_type', 'client_credentials'],
      ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer'],
      ['client_assertion', await craftedAssertion()],
    );
    expectInvalidClient(res);
  });
});

describe('one authentication method per client, and per request', () => {
  test('a key client’s secret-style authentication is refused (it has no secret)', async () => {
    expectInvalidClient(
      await request(auth.app)
        .post('/oauth/token')
        .set('Authorization', basic('svc-key', ''))
        .type('form')
        .send(form(['grant_type', 'client_credentials'])),
    );
    expectInvalidClient(
      await post(
        '/oauth/token',
        ['grant_type', 'client_credentials'],
        ['client_id', 'svc-key'],
        ['client_secret', 'guess'],
      ),
    );
    // Nor as a public client, by client_id alone.
    expectInvalidClient(
      await post('/oauth/token', ['grant_type', 'client_credentials'], ['client_id', 'svc-key']),
    );
  });

  test('a secret client still authenticates with its secret', async () => {
    const res = await request(auth.app)
      .post('/oauth/token')
      .set('Authorization', basic('svc-secret', svcSecret))
      .type('form')
      .send(form(['grant_type', 'client_credentials']));
    expect(res.status).toBe(200);
  });

  test('an assertion together with Basic or client_secret is invalid_request; half an assertion too', async () => {
    const assertion = await craftedAssertion();
    const withBasic = await request(auth.app)
      .post('/oauth/token')
      .set('Authorization', basic('svc-secret', svcSecret))
      .type('form')
      .send(form(['grant_type', 'client_credentials'], ...withAssertion(assertion)));
    expectError(withBasic, 400, 'invalid_request');
    expectError(
      await post(
        '/oauth/token',
        ['grant_type', 'client_credentials'],
        ['client_secret', svcSecret],
        ...withAssertion(assertion),
      ),
      400,
      'invalid_request',
    );
    expectError(
      await post('/oauth/token', ['grant_type', 'client_credentials'], ['client_assertion', assertion]),
      400,
      'invalid_request',
    );
    // None of these used the assertion up.
    expect((await clientCredentials(assertion)).status).toBe(200);
  });

  test('client_assertion in the query string is refused', async () => {
    const res = await request(auth.app)
      .post(`/oauth/token?client_assertion=${await craftedAssertion()}`)
      .type('form')
      .send(
        form(['grant_type', 'client_credentials'], ['client_assertion_type', jwtBearerClientAssertionType]),
      );
    expectError(res, 400, 'invalid_request');
  });
});

describe('client-side key rotation (set-keys)', () => {
  test('after the keys are replaced, the old key is refused and the new one accepted', async () => {
    await auth.services.clients.setKeys('svc-key', {
      keys: [await publicJwk(next.publicKey, 'rsa-2'), await publicJwk(ec.publicKey, 'ec-1')],
    });
    expectInvalidClient(await clientCredentials((await helperAssertion()).client_assertion));
    const res = await clientCredentials(
      (await helperAssertion({ privateKey: next.privateKey, kid: 'rsa-2' })).client_assertion,
    );
    expect(res.status).toBe(200);
    expect((await auth.services.storage.clients.find('svc-key'))?.jwks?.map((key) => key.kid)).toEqual([
      'rsa-2',
      'ec-1',
    ]);
  });
});

test('no assertion, jti or secret appears in the logs', () => {
  const logs = auth.lines.join('\n');
  expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  expect(logs).not.toContain(svcSecret);
});

test('property: arbitrary JWT-shaped assertions are refused (400/401), never a 5xx or a token', async () => {
  const text = fc.string({ unit: 'binary', maxLength: 40 });
  const claimValue = fc.oneof(
    text,
    fc.integer(),
    fc.double(),
    fc.constantFrom('svc-key', issuer, `${issuer}/oauth/token`, null),
    fc.array(text, { maxLength: 3 }),
    fc.constant(nowSeconds()),
  );
  const header = fc.record(
    {
      alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'none', 'HS256', 'PS256', 'RS512'), text, fc.integer()),
      kid: fc.oneof(fc.constantFrom('rsa-1', 'ec-1', '../../etc/passwd'), text, fc.integer()),
      typ: fc.oneof(fc.constantFrom('JWT', 'client-authentication+jwt', 'at+jwt'), text),
      crit: fc.array(text, { maxLength: 2 }),
    },
    { requiredKeys: [] },
  );
  const claims = fc.record(
    { iss: claimValue, sub: claimValue, aud: claimValue, exp: claimValue, nbf: claimValue, jti: claimValue },
    { requiredKeys: [] },
  );
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(header, fc.jsonValue()),
      fc.oneof(claims, fc.jsonValue()),
      fc.oneof(fc.base64String({ maxLength: 400 }), fc.constant('')),
      async (h, c, signature) => {
        const res = await clientCredentials(`${part(h)}.${part(c)}.${signature.replace(/=/g, '')}`);
        expect([400, 401]).toContain(res.status);
        expect(res.text).not.toContain('access_token');
      },
    ),
    { numRuns: 200 },
  );
}, 60_000);
