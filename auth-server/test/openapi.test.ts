import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { clientAssertion, newKeyPairSync } from '@tessera/shared';
import {
  checkResponse,
  itDescribesTheServedApp,
  type ContractCase,
} from '../../shared/test/openapi-contract.js';
import { openApiDocument } from '../src/openapi.js';
import { basic, createTestAuth, form, type TestAuth, testResource } from './helpers.js';

let auth: TestAuth;
let secret: string;
/** Tokens from a password grant, for the cases that need one. */
let issued: { access_token: string; refresh_token: string };
let spare: { access_token: string; refresh_token: string };

const password = 'alice-password';
/** The key of the private_key_jwt client `svc-key`, and an assertion of its already used once. */
const serviceKey = newKeyPairSync({ type: 'ec', namedCurve: 'P-256' });
let usedAssertion: Record<string, string>;
const assertion = () =>
  clientAssertion({
    clientId: 'svc-key',
    issuer: auth.config.issuer,
    privateKey: serviceKey.privateKey,
    clock: auth.clock,
  });

async function passwordGrant(): Promise<{ access_token: string; refresh_token: string }> {
  const res = await request(auth.app)
    .post('/oauth/token')
    .set('Authorization', basic('app', secret))
    .type('form')
    .send(form(['grant_type', 'password'], ['username', 'alice'], ['password', password]))
    .expect(200);
  return res.body as { access_token: string; refresh_token: string };
}

beforeAll(async () => {
  auth = await createTestAuth();
  secret = (
    await auth.services.clients.create({
      resources: testResource,
      clientId: 'app',
      grants: 'password,client_credentials,refresh_token,token_exchange',
      scopes: 'notes:read',
      isPublic: false,
    })
  ).secret!;
  await auth.services.clients.create({
    resources: testResource,
    clientId: 'spa',
    grants: 'password',
    scopes: 'notes:read',
    isPublic: true,
  });
  await auth.services.clients.create({
    resources: testResource,
    clientId: 'svc-key',
    grants: 'client_credentials',
    scopes: 'notes:read',
    isPublic: false,
    jwks: { keys: [serviceKey.publicKey.export({ format: 'jwk' })] },
  });
  usedAssertion = { ...(await assertion()) };
  await tokenRequest(form(['grant_type', 'client_credentials'], ...Object.entries(usedAssertion))).expect(
    200,
  );
  await auth.services.users.create({ username: 'alice', password, scopes: 'notes:read' });
  await auth.services.clients.create({
    clientId: 'webapp',
    grants: 'authorization_code,refresh_token',
    scopes: 'notes:read',
    isPublic: true,
    redirectUris: signInRedirect,
    postLogoutRedirectUris: signInRedirect,
    resources: testResource,
  });
  // `app` is also the resource's own server: it introspects, and exchanges tokens it received.
  await auth.services.resources.update(testResource, { serverClientId: 'app' });
  issued = await passwordGrant();
  spare = await passwordGrant();
  // Something in the revocation feed, so its entries are checked too.
  await request(auth.app)
    .post('/oauth/revoke')
    .set('Authorization', basic('app', secret))
    .type('form')
    .send(form(['token', spare.access_token]))
    .expect(200);
});

afterAll(async () => {
  await auth.close();
});

const app = () => request(auth.app);
const token = (...pairs: [string, string][]) =>
  app()
    .post('/oauth/token')
    .set('Authorization', basic('app', secret))
    .type('form')
    .send(form(...pairs));
const tokenRequest = (body: string, contentType = 'application/x-www-form-urlencoded') =>
  app().post('/oauth/token').set('Content-Type', contentType).send(body);
const withClient = (path: string, ...pairs: [string, string][]) =>
  app()
    .post(path)
    .set('Authorization', basic('app', secret))
    .type('form')
    .send(form(...pairs));

const signInRedirect = 'https://webapp.example/cb';
const verifier = randomBytes(32).toString('base64url');
const authorizeUrl = (extra: Record<string, string> = {}) =>
  `/oauth/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: 'webapp',
    redirect_uri: signInRedirect,
    scope: 'openid profile notes:read',
    state: 's',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  }).toString()}`;
const hidden = (html: string, name: string) =>
  (new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '').replace(/&amp;/g, '&');

/** A browser (cookie jar) on the sign-in page, and the sign-in form filled in. */
async function signInForm(pass = password) {
  const agent = request.agent(auth.app);
  // prompt=consent: the consent page every time, whatever earlier cases allowed.
  const page = await agent.get(authorizeUrl({ prompt: 'consent' }));
  const fields = {
    csrf_token: hidden(page.text, 'csrf_token'),
    request: hidden(page.text, 'request'),
    username: 'alice',
    password: pass,
  };
  return { agent, fields };
}

/** Signed in with a consent page shown: the browser and the consent form. */
async function consentForm() {
  const { agent, fields } = await signInForm();
  const page = await agent.post('/oauth/authorize/sign-in').type('form').send(fields);
  return {
    agent,
    fields: { csrf_token: hidden(page.text, 'csrf_token'), request: hidden(page.text, 'request') },
  };
}

/** Tokens from the whole browser flow (sign-in, consent, code exchange). */
async function codeFlowTokens(): Promise<{
  access_token: string;
  id_token: string;
  agent: ReturnType<typeof request.agent>;
}> {
  const { agent, fields } = await consentForm();
  const back = await agent
    .post('/oauth/authorize/consent')
    .type('form')
    .send({ ...fields, decision: 'allow' });
  const code = new URL(back.headers.location!).searchParams.get('code')!;
  const res = await request(auth.app)
    .post('/oauth/token')
    .type('form')
    .send(
      form(
        ['grant_type', 'authorization_code'],
        ['client_id', 'webapp'],
        ['code', code],
        ['redirect_uri', signInRedirect],
        ['code_verifier', verifier],
      ),
    );
  return { ...(res.body as { access_token: string; id_token: string }), agent };
}

/** At least one real request per documented operation: valid input, and the refusals we can provoke. */
const cases: ContractCase[] = [
  {
    operation: 'POST /oauth/token',
    behaviour: 'client_credentials with Basic authentication',
    status: 200,
    send: () => token(['grant_type', 'client_credentials']),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'password with client_secret_post, with a refresh token',
    status: 200,
    send: () =>
      tokenRequest(
        form(
          ['grant_type', 'password'],
          ['username', 'alice'],
          ['password', password],
          ['client_id', 'app'],
          ['client_secret', secret],
        ),
      ),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'token exchange (RFC 8693), with issued_token_type',
    status: 200,
    send: () =>
      token(
        ['grant_type', 'urn:ietf:params:oauth:grant-type:token-exchange'],
        ['subject_token', issued.access_token],
        ['subject_token_type', 'urn:ietf:params:oauth:token-type:access_token'],
      ),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'an unknown resource is invalid_target',
    status: 400,
    send: () => token(['grant_type', 'client_credentials'], ['resource', 'https://unknown.test']),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'password for a public client (client_id only)',
    status: 200,
    send: () =>
      tokenRequest(
        form(['grant_type', 'password'], ['username', 'alice'], ['password', password], ['client_id', 'spa']),
      ),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'refresh_token',
    status: 200,
    send: () => token(['grant_type', 'refresh_token'], ['refresh_token', issued.refresh_token]),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'a wrong password is invalid_grant',
    status: 400,
    send: () => token(['grant_type', 'password'], ['username', 'alice'], ['password', 'wrong']),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'an unknown grant_type',
    status: 400,
    send: () => token(['grant_type', 'urn:ietf:params:oauth:grant-type:device_code']),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'a JSON body is invalid_request',
    status: 400,
    send: () => tokenRequest('{"grant_type":"client_credentials"}', 'application/json'),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'a wrong client secret is invalid_client',
    status: 401,
    send: () =>
      app()
        .post('/oauth/token')
        .set('Authorization', basic('app', 'wrong'))
        .type('form')
        .send(form(['grant_type', 'client_credentials'])),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'client_credentials with private_key_jwt',
    status: 200,
    send: async () =>
      tokenRequest(form(['grant_type', 'client_credentials'], ...Object.entries(await assertion()))),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'a replayed client assertion is invalid_client',
    status: 401,
    send: () => tokenRequest(form(['grant_type', 'client_credentials'], ...Object.entries(usedAssertion))),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'a body over 8 KB',
    status: 413,
    send: () => tokenRequest(form(['grant_type', 'client_credentials'], ['padding', 'x'.repeat(9000)])),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'an unsupported charset',
    status: 415,
    send: () =>
      tokenRequest(
        form(['grant_type', 'client_credentials']),
        'application/x-www-form-urlencoded; charset=koi8-r',
      ),
  },
  {
    operation: 'POST /oauth/token',
    behaviour: 'authorization_code with PKCE for a public client',
    status: 200,
    send: async () => {
      const { agent, fields } = await consentForm();
      const back = await agent
        .post('/oauth/authorize/consent')
        .type('form')
        .send({ ...fields, decision: 'allow' });
      return tokenRequest(
        form(
          ['grant_type', 'authorization_code'],
          ['client_id', 'webapp'],
          ['code', new URL(back.headers.location!).searchParams.get('code')!],
          ['redirect_uri', signInRedirect],
          ['code_verifier', verifier],
        ),
      );
    },
  },
  {
    operation: 'GET /oauth/authorize',
    behaviour: 'the sign-in page',
    status: 200,
    send: () => app().get(authorizeUrl()),
  },
  {
    operation: 'GET /oauth/authorize',
    behaviour: 'plain PKCE is redirected back as invalid_request',
    status: 303,
    send: () => app().get(authorizeUrl({ code_challenge_method: 'plain' })),
  },
  {
    operation: 'GET /oauth/authorize',
    behaviour: 'an unregistered redirect URI gets an error page',
    status: 400,
    send: () => app().get(authorizeUrl({ redirect_uri: 'https://evil.example/cb' })),
  },
  {
    operation: 'POST /oauth/authorize',
    behaviour: 'the request as a form: the sign-in page',
    status: 200,
    send: () =>
      app()
        .post('/oauth/authorize')
        .type('form')
        .send(new URL(authorizeUrl(), 'http://x').searchParams.toString()),
  },
  {
    operation: 'POST /oauth/authorize/sign-in',
    behaviour: 'the right password: the consent page',
    status: 200,
    send: async () => {
      const { agent, fields } = await signInForm();
      return agent.post('/oauth/authorize/sign-in').type('form').send(fields);
    },
  },
  {
    operation: 'POST /oauth/authorize/sign-in',
    behaviour: 'a wrong password',
    status: 400,
    send: async () => {
      const { agent, fields } = await signInForm('wrong password');
      return agent.post('/oauth/authorize/sign-in').type('form').send(fields);
    },
  },
  {
    operation: 'POST /oauth/authorize/sign-in',
    behaviour: 'no CSRF token',
    status: 403,
    send: async () => {
      const { agent, fields } = await signInForm();
      return agent
        .post('/oauth/authorize/sign-in')
        .type('form')
        .send({ ...fields, csrf_token: '' });
    },
  },
  {
    operation: 'POST /oauth/authorize/consent',
    behaviour: 'allow: back to the client with a code',
    status: 303,
    send: async () => {
      const { agent, fields } = await consentForm();
      return agent
        .post('/oauth/authorize/consent')
        .type('form')
        .send({ ...fields, decision: 'allow' });
    },
  },
  {
    operation: 'POST /oauth/authorize/consent',
    behaviour: 'no CSRF token',
    status: 403,
    send: async () => {
      const { agent, fields } = await consentForm();
      return agent
        .post('/oauth/authorize/consent')
        .type('form')
        .send({ request: fields.request, decision: 'allow' });
    },
  },
  {
    operation: 'GET /oauth/userinfo',
    behaviour: 'an openid access token',
    status: 200,
    send: async () => {
      const { access_token } = await codeFlowTokens();
      return app().get('/oauth/userinfo').set('Authorization', `Bearer ${access_token}`);
    },
  },
  {
    operation: 'GET /oauth/userinfo',
    behaviour: 'an access token without openid',
    status: 401,
    send: () => app().get('/oauth/userinfo').set('Authorization', `Bearer ${issued.access_token}`),
  },
  {
    operation: 'POST /oauth/userinfo',
    behaviour: 'no token',
    status: 401,
    send: () => app().post('/oauth/userinfo'),
  },
  {
    operation: 'GET /oauth/logout',
    behaviour: 'with the session’s id_token_hint: back to the registered URI',
    status: 303,
    send: async () => {
      const { id_token, agent } = await codeFlowTokens();
      return agent.get(
        `/oauth/logout?${new URLSearchParams({ id_token_hint: id_token, post_logout_redirect_uri: signInRedirect }).toString()}`,
      );
    },
  },
  {
    operation: 'GET /oauth/logout',
    behaviour: 'an unregistered post_logout_redirect_uri',
    status: 400,
    send: () =>
      app().get(
        `/oauth/logout?client_id=webapp&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`,
      ),
  },
  {
    operation: 'POST /oauth/logout',
    behaviour: 'no session: the signed-out page',
    status: 200,
    send: () => app().post('/oauth/logout').type('form').send(''),
  },
  {
    operation: 'POST /oauth/revoke',
    behaviour: 'revoking a refresh token answers 200 with no body',
    status: 200,
    send: () => withClient('/oauth/revoke', ['token', spare.refresh_token]),
  },
  {
    operation: 'POST /oauth/revoke',
    behaviour: 'no token',
    status: 400,
    send: () => withClient('/oauth/revoke'),
  },
  {
    operation: 'POST /oauth/revoke',
    behaviour: 'no client authentication',
    status: 401,
    send: () =>
      app()
        .post('/oauth/revoke')
        .type('form')
        .send(form(['token', 'x'])),
  },
  {
    operation: 'POST /oauth/introspect',
    behaviour: 'an active access token',
    status: 200,
    send: () => withClient('/oauth/introspect', ['token', issued.access_token]),
  },
  {
    operation: 'POST /oauth/introspect',
    behaviour: 'an exchanged access token, with its act',
    status: 200,
    send: async () => {
      const exchanged = await token(
        ['grant_type', 'urn:ietf:params:oauth:grant-type:token-exchange'],
        ['subject_token', issued.access_token],
        ['subject_token_type', 'urn:ietf:params:oauth:token-type:access_token'],
      );
      const res = await withClient('/oauth/introspect', ['token', exchanged.body.access_token as string]);
      expect(res.body).toMatchObject({ active: true, act: { sub: 'app' } });
      return res;
    },
  },
  {
    operation: 'POST /oauth/introspect',
    behaviour: 'a revoked access token is inactive',
    status: 200,
    send: () => withClient('/oauth/introspect', ['token', spare.access_token]),
  },
  {
    operation: 'POST /oauth/introspect',
    behaviour: 'an unknown token is inactive',
    status: 200,
    send: () => withClient('/oauth/introspect', ['token', 'not-a-token']),
  },
  {
    operation: 'POST /oauth/introspect',
    behaviour: 'a public client is invalid_client',
    status: 401,
    send: () =>
      app()
        .post('/oauth/introspect')
        .type('form')
        .send(form(['token', 'x'], ['client_id', 'spa'])),
  },
  {
    operation: 'POST /oauth/introspect',
    behaviour: 'no token',
    status: 400,
    send: () => withClient('/oauth/introspect'),
  },
  {
    operation: 'GET /oauth/revocations',
    behaviour: 'the feed',
    status: 200,
    send: () => app().get('/oauth/revocations'),
  },
  {
    operation: 'GET /oauth/revocations',
    behaviour: 'a current ETag',
    status: 304,
    send: async () => {
      const first = await app().get('/oauth/revocations');
      return app().get('/oauth/revocations').set('If-None-Match', first.headers.etag!);
    },
  },
  {
    operation: 'GET /.well-known/jwks.json',
    behaviour: 'the keys',
    status: 200,
    send: () => app().get('/.well-known/jwks.json'),
  },
  {
    operation: 'GET /.well-known/jwks.json',
    behaviour: 'a current ETag',
    status: 304,
    send: async () => {
      const first = await app().get('/.well-known/jwks.json');
      return app().get('/.well-known/jwks.json').set('If-None-Match', first.headers.etag!);
    },
  },
  {
    operation: 'GET /.well-known/oauth-authorization-server',
    behaviour: 'the metadata',
    status: 200,
    send: () => app().get('/.well-known/oauth-authorization-server'),
  },
  {
    operation: 'GET /.well-known/openid-configuration',
    behaviour: 'the metadata',
    status: 200,
    send: () => app().get('/.well-known/openid-configuration'),
  },
  { operation: 'GET /healthz', behaviour: 'alive', status: 200, send: () => app().get('/healthz') },
  { operation: 'GET /readyz', behaviour: 'ready', status: 200, send: () => app().get('/readyz') },
  {
    operation: 'GET /readyz',
    behaviour: 'not ready when the store is closed',
    status: 503,
    send: async () => {
      const down = await createTestAuth();
      await down.services.storage.close();
      try {
        return await request(down.app).get('/readyz');
      } finally {
        await down.close().catch(() => undefined);
      }
    },
  },
  {
    operation: 'GET /openapi.json',
    behaviour: 'this document',
    status: 200,
    send: () => app().get('/openapi.json'),
  },
  {
    operation: 'GET /openapi.json',
    behaviour: 'a current ETag',
    status: 304,
    send: async () => {
      const first = await app().get('/openapi.json');
      return app().get('/openapi.json').set('If-None-Match', first.headers.etag!);
    },
  },
];

describe('the OpenAPI description of the auth server', () => {
  itDescribesTheServedApp(openApiDocument, () => auth.app, cases);

  it('answers 405 with Allow naming exactly the documented methods wherever it documents 405', async () => {
    const paths = Object.entries(openApiDocument.paths).filter(([, item]) =>
      Object.values(item).some((operation) => typeof operation === 'object' && '405' in operation.responses),
    );
    expect(paths.length).toBeGreaterThan(0);
    for (const [path, item] of paths) {
      const documented = (['get', 'post'] as const).filter((method) => item[method] !== undefined);
      const res = await app().delete(path);
      const operation = `${documented[0]!.toUpperCase()} ${path}`;
      expect({ path, problems: checkResponse(openApiDocument, operation, res) }).toEqual({
        path,
        problems: [],
      });
      expect({ path, status: res.status }).toEqual({ path, status: 405 });
      const allow = res.headers.allow!.split(/, */).sort();
      const expected = documented.flatMap((method) => (method === 'get' ? ['GET', 'HEAD'] : ['POST'])).sort();
      expect({ path, allow }).toEqual({ path, allow: expected });
    }
  });
});
