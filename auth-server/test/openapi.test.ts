import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import request, { type Response, type Test } from 'supertest';
import { clientAssertion, newKeyPairSync } from '@tessera/shared';
import { itDescribesTheServedApp, type ContractCase } from '../../shared/test/openapi-contract.js';
import { openApiDocument } from '../src/openapi.js';
import { basic, createTestAuth, form, type TestAuth, testResource } from './helpers.js';

let auth: TestAuth;
/** Each address may make one request a minute to each endpoint: the 429s. */
let limited: TestAuth;
/** Its store closed once set up: the 503s. */
let down: TestAuth;
/** On `down`, made before its store closed: an openid access token, a filled-in sign-in form. */
let downToken: string;
let downSignIn: Awaited<ReturnType<typeof signInForm>>;
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
  await auth.services.clients.create({
    clientId: 'webapp-1p',
    grants: 'authorization_code',
    scopes: 'notes:read',
    isPublic: true,
    firstParty: true,
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

/** A store-less twin: the client, user and resource the cases use, then the store closed. */
async function createDownAuth(): Promise<void> {
  down = await createTestAuth();
  await down.services.users.create({ username: 'alice', password, scopes: 'notes:read' });
  await down.services.clients.create({
    clientId: 'webapp',
    grants: 'authorization_code',
    scopes: 'notes:read',
    isPublic: true,
    redirectUris: signInRedirect,
    resources: testResource,
  });
  downToken = (
    await down.services.accessTokens.issue({
      sub: 'alice',
      clientId: 'webapp',
      scope: ['openid'],
      audience: [`${down.config.issuer}/oauth/userinfo`],
    })
  ).token;
  downSignIn = await signInForm(password, down);
  await down.services.storage.close();
}

// Two more apps (key generation, migrations) and a sign-in: more than a test's default 5 s on a busy machine.
beforeAll(async () => {
  limited = await createTestAuth({ RATE_LIMIT_IP: '1/1m' });
  await createDownAuth();
}, 30_000);

afterAll(async () => {
  await auth.close();
  await limited.close();
  await down.close().catch(() => undefined);
});

/** The second of two requests to the rate-limited twin. */
async function twice(send: (app: ReturnType<typeof request>) => Test): Promise<Response> {
  await send(request(limited.app));
  return send(request(limited.app));
}

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
async function signInForm(pass = password, on: TestAuth = auth, extra = { prompt: 'consent' }) {
  const agent = request.agent(on.app);
  // prompt=consent: the consent page every time, whatever earlier cases allowed.
  const page = await agent.get(authorizeUrl(extra));
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
    send: () => request(down.app).get('/readyz'),
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

  // The refusals every form endpoint shares, the rate limits and an unreachable store.
  ...(['/oauth/token', '/oauth/revoke', '/oauth/introspect'] as const).flatMap((path): ContractCase[] => [
    {
      operation: `POST ${path}`,
      behaviour: 'a body over 8 KB',
      status: 413,
      send: () =>
        withClient(path, ['token', 'x'], ['grant_type', 'client_credentials'], ['padding', 'x'.repeat(9000)]),
    },
    {
      operation: `POST ${path}`,
      behaviour: 'an unsupported charset',
      status: 415,
      send: () =>
        app()
          .post(path)
          .set('Authorization', basic('app', secret))
          .set('Content-Type', 'application/x-www-form-urlencoded; charset=koi8-r')
          .send(form(['token', 'x'], ['grant_type', 'client_credentials'])),
    },
    {
      operation: `POST ${path}`,
      behaviour: 'over the per-address budget',
      status: 429,
      send: () =>
        twice((to) =>
          to
            .post(path)
            .type('form')
            .send(form(['token', 'x'])),
        ),
    },
    {
      operation: `POST ${path}`,
      behaviour: 'the store is unreachable',
      status: 503,
      send: () =>
        request(down.app)
          .post(path)
          .set('Authorization', basic('app', 'secret'))
          .type('form')
          .send(form(['token', 'x'], ['grant_type', 'client_credentials'])),
    },
  ]),
  {
    operation: 'GET /oauth/revocations',
    behaviour: 'the store is unreachable',
    status: 503,
    send: () => request(down.app).get('/oauth/revocations'),
  },
  ...(['get', 'post'] as const).flatMap((method): ContractCase[] => {
    const operation = `${method.toUpperCase()} /oauth/userinfo`;
    const call = (to: ReturnType<typeof request>) => to[method]('/oauth/userinfo');
    return [
      {
        operation,
        behaviour: 'an openid access token',
        status: 200,
        send: async () => {
          const { access_token } = await codeFlowTokens();
          return call(app()).set('Authorization', `Bearer ${access_token}`);
        },
      },
      {
        operation,
        behaviour: 'a malformed Authorization header',
        status: 400,
        send: () => call(app()).set('Authorization', 'Bearer a b'),
      },
      {
        operation,
        behaviour: 'a token for userinfo without the openid scope',
        status: 403,
        send: async () => {
          const { token: accessToken } = await auth.services.accessTokens.issue({
            sub: 'alice',
            clientId: 'webapp',
            scope: ['notes:read'],
            audience: [`${auth.config.issuer}/oauth/userinfo`],
          });
          return call(app()).set('Authorization', `Bearer ${accessToken}`);
        },
      },
      {
        operation,
        behaviour: 'over the per-address budget',
        status: 429,
        send: () => twice((to) => call(to)),
      },
      {
        operation,
        behaviour: 'the store is unreachable',
        status: 503,
        send: () => call(request(down.app)).set('Authorization', `Bearer ${downToken}`),
      },
    ];
  }),
  {
    operation: 'GET /oauth/authorize',
    behaviour: 'over the per-address budget',
    status: 429,
    send: () => twice((to) => to.get(authorizeUrl())),
  },
  {
    operation: 'POST /oauth/authorize',
    behaviour: 'plain PKCE is redirected back as invalid_request',
    status: 303,
    send: () =>
      app()
        .post('/oauth/authorize')
        .type('form')
        .send(new URL(authorizeUrl({ code_challenge_method: 'plain' }), 'http://x').searchParams.toString()),
  },
  {
    operation: 'POST /oauth/authorize',
    behaviour: 'an unregistered redirect URI gets an error page',
    status: 400,
    send: () =>
      app()
        .post('/oauth/authorize')
        .type('form')
        .send(
          new URL(
            authorizeUrl({ redirect_uri: 'https://evil.example/cb' }),
            'http://x',
          ).searchParams.toString(),
        ),
  },
  {
    operation: 'POST /oauth/authorize',
    behaviour: 'over the per-address budget',
    status: 429,
    send: () =>
      twice((to) =>
        to
          .post('/oauth/authorize')
          .type('form')
          .send(new URL(authorizeUrl(), 'http://x').searchParams.toString()),
      ),
  },
  {
    operation: 'POST /oauth/authorize/sign-in',
    behaviour: 'a first-party client: straight back with a code',
    status: 303,
    send: async () => {
      const { agent, fields } = await signInForm(password, auth, { client_id: 'webapp-1p' } as never);
      return agent.post('/oauth/authorize/sign-in').type('form').send(fields);
    },
  },
  {
    operation: 'POST /oauth/authorize/sign-in',
    behaviour: 'over the per-address budget',
    status: 429,
    send: () => twice((to) => to.post('/oauth/authorize/sign-in').type('form').send('username=alice')),
  },
  {
    operation: 'POST /oauth/authorize/sign-in',
    behaviour: 'the store is unreachable',
    status: 503,
    send: () => downSignIn.agent.post('/oauth/authorize/sign-in').type('form').send(downSignIn.fields),
  },
  {
    operation: 'POST /oauth/authorize/consent',
    behaviour: 'the session ended meanwhile: the sign-in page',
    status: 200,
    send: async () => {
      const { agent, fields } = await consentForm();
      const confirm = await agent.get('/oauth/logout');
      await agent
        .post('/oauth/logout')
        .type('form')
        .send({ csrf_token: hidden(confirm.text, 'csrf_token') })
        .expect(200);
      return agent
        .post('/oauth/authorize/consent')
        .type('form')
        .send({ ...fields, decision: 'allow' });
    },
  },
  {
    operation: 'POST /oauth/authorize/consent',
    behaviour: 'a request that is not one',
    status: 400,
    send: async () => {
      const { agent, fields } = await consentForm();
      return agent
        .post('/oauth/authorize/consent')
        .type('form')
        .send({ ...fields, request: 'not-a-request', decision: 'allow' });
    },
  },
  {
    operation: 'POST /oauth/authorize/consent',
    behaviour: 'over the per-address budget',
    status: 429,
    send: () => twice((to) => to.post('/oauth/authorize/consent').type('form').send('decision=allow')),
  },
  {
    operation: 'GET /oauth/logout',
    behaviour: 'no session: the signed-out page',
    status: 200,
    send: () => app().get('/oauth/logout'),
  },
  {
    operation: 'GET /oauth/logout',
    behaviour: 'over the per-address budget',
    status: 429,
    send: () => twice((to) => to.get('/oauth/logout')),
  },
  {
    operation: 'POST /oauth/logout',
    behaviour: 'no session: back to the registered URI',
    status: 303,
    send: () =>
      app()
        .post('/oauth/logout')
        .type('form')
        .send(form(['client_id', 'webapp'], ['post_logout_redirect_uri', signInRedirect])),
  },
  {
    operation: 'POST /oauth/logout',
    behaviour: 'an unregistered post_logout_redirect_uri',
    status: 400,
    send: () =>
      app()
        .post('/oauth/logout')
        .type('form')
        .send(form(['client_id', 'webapp'], ['post_logout_redirect_uri', 'https://evil.example/'])),
  },
  {
    operation: 'POST /oauth/logout',
    behaviour: 'over the per-address budget',
    status: 429,
    send: () => twice((to) => to.post('/oauth/logout').type('form').send('')),
  },
];

describe('the OpenAPI description of the auth server', () => {
  itDescribesTheServedApp(openApiDocument(), () => auth.app, cases);
});
