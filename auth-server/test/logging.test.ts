import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { basic, createTestAuth, form, type TestAuth, testResource } from './helpers.js';

let auth: TestAuth;
let secret: string;
const password = 'Pa55-word-that-must-never-be-logged';
const wrongPassword = 'Wr0ng-password-that-must-never-be-logged';

interface RequestLine {
  msg: string;
  req?: { id?: string; method?: string; path?: string };
  res?: { statusCode?: number };
}

const parsed = (): RequestLine[] => auth.lines.map((line) => JSON.parse(line) as RequestLine);
const requestLines = () => parsed().filter((line) => line.req !== undefined && line.res !== undefined);

beforeAll(async () => {
  auth = await createTestAuth();
  secret =
    (
      await auth.services.clients.create({
        resources: testResource,
        clientId: 'web',
        grants: 'password',
        scopes: 'notes:read',
        isPublic: false,
      })
    ).secret ?? '';
  await auth.services.users.create({ username: 'alice', password, scopes: 'notes:read' });
});

afterAll(async () => {
  await auth.close();
});

describe('credentials never reach the log', () => {
  test('after a token request, a failed password and an Authorization header at a 404, no secret is in any line', async () => {
    const authorization = basic('web', secret);
    const credentials = authorization.slice('Basic '.length);
    const before = auth.lines.length;

    const ok = await request(auth.app)
      .post('/oauth/token')
      .type('form')
      .set('Authorization', authorization)
      .send(form(['grant_type', 'password'], ['username', 'alice'], ['password', password]))
      .expect(200);
    const accessToken = ok.body.access_token as string;
    await request(auth.app)
      .post('/oauth/token')
      .type('form')
      .set('Authorization', authorization)
      .send(form(['grant_type', 'password'], ['username', 'alice'], ['password', wrongPassword]))
      .expect(400);
    await request(auth.app)
      .get('/api/nothing-here')
      .set('Authorization', `Bearer ${accessToken}`)
      .expect(404);
    await request(auth.app).get('/also-nothing').set('Authorization', authorization).expect(404);
    // A credential in the wrong place (the query) is refused, and not logged either.
    await request(auth.app)
      .post(`/oauth/token?client_secret=${secret}&password=${password}`)
      .type('form')
      .send(form(['grant_type', 'password']))
      .expect(400);

    const lines = auth.lines.slice(before);
    // Not vacuous: every request was logged, with its id, method and path.
    const logged = requestLines().slice(-5);
    expect(logged.map((line) => [line.req?.method, line.req?.path, line.res?.statusCode])).toEqual([
      ['POST', '/oauth/token', 200],
      ['POST', '/oauth/token', 400],
      ['GET', '/api/nothing-here', 404],
      ['GET', '/also-nothing', 404],
      ['POST', '/oauth/token', 400],
    ]);
    for (const line of logged) expect(line.req?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.some((line) => line.includes('"event":"token.issued"'))).toBe(true);
    // The audit line of a request carries that request's id.
    const issued = parsed().find((line) => (line as { event?: string }).event === 'token.issued') as
      { request_id?: string } | undefined;
    expect(issued?.request_id).toBe(logged[0]?.req?.id);

    const joined = lines.join('\n');
    for (const leaked of [secret, password, wrongPassword, accessToken, credentials]) {
      expect(joined).not.toContain(leaked);
    }
    // Nor any part of the JWT (its signature alone would be enough to recognise it).
    expect(joined).not.toContain(accessToken.split('.')[2]);
    expect(joined).not.toMatch(/authorization/i);
  });
});

describe('request ids', () => {
  test('a well-formed incoming X-Request-Id is echoed back and logged', async () => {
    const res = await request(auth.app).get('/healthz').set('X-Request-Id', 'abc-123');
    expect(res.headers['x-request-id']).toBe('abc-123');
    const line = requestLines().at(-1);
    expect(line?.req).toMatchObject({ id: 'abc-123', path: '/healthz' });
  });

  test.each([
    ['a space', 'abc 123'],
    ['JSON', '{"level":60}'],
    ['a quote and angle brackets', '"><script>'],
    ['65 characters', 'a'.repeat(65)],
    ['a non-ASCII byte', 'abc\u00ff'],
  ])(
    'a malformed X-Request-Id (%s) is replaced by a fresh one, in the response and the log',
    async (_what, id) => {
      const res = await request(auth.app).get('/healthz').set('X-Request-Id', id);
      const replaced = res.headers['x-request-id'] as string;
      expect(replaced).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(requestLines().at(-1)?.req?.id).toBe(replaced);
      expect(auth.lines.at(-1)).not.toContain(id);
    },
  );

  test('without an X-Request-Id, each request gets its own', async () => {
    const a = await request(auth.app).get('/healthz');
    const b = await request(auth.app).get('/healthz');
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.headers['x-request-id']).not.toBe(a.headers['x-request-id']);
  });
});
