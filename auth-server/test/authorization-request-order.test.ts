import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestAuth, testResource, type TestAuth } from './helpers.js';

/**
 * The authorization endpoint checks its parameters with their schema (`authorizationRequest`),
 * one at a time, and reports the first problem in a fixed order: an error page until the client
 * and redirect URI are trusted (RFC 6749 §4.1.2.1), then a redirect with the error. Each case
 * breaks two rules at once where it can, so the one reported first is what is checked.
 */
const redirectUri = 'http://127.0.0.1:9000/callback';
const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
const good: Record<string, string> = {
  response_type: 'code',
  client_id: 'spa',
  redirect_uri: redirectUri,
  scope: 'openid notes:read',
  state: 'st',
  code_challenge: challenge,
  code_challenge_method: 'S256',
};
const query = (overrides: Record<string, string | undefined>) => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...good, ...overrides }))
    if (value !== undefined) params.set(name, value);
  return `/oauth/authorize?${params.toString()}`;
};

describe('authorization request: the schema, checked in order', () => {
  let auth: TestAuth;
  beforeAll(async () => {
    auth = await createTestAuth({ RATE_LIMIT_IP: '100000/1m' });
    await auth.services.clients.create({
      clientId: 'spa',
      grants: 'authorization_code',
      scopes: 'notes:read',
      isPublic: true,
      resources: testResource,
      redirectUris: redirectUri,
    });
  });
  afterAll(() => auth.close());

  it.each([
    [{ client_id: undefined, redirect_uri: undefined }, 'does not name one application'],
    [{ client_id: 'nobody', redirect_uri: undefined }, 'not registered for sign-in'],
    [{ redirect_uri: undefined, response_type: 'token' }, 'does not say where to return'],
    [{ redirect_uri: 'https://evil.example/cb', response_type: undefined }, 'not registered for it'],
  ])('%j gets an error page, never a redirect (%s)', async (overrides, message) => {
    const res = await request(auth.app).get(query(overrides));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain(message);
  });

  it.each([
    [
      { response_type: undefined, code_challenge_method: 'plain' },
      'invalid_request',
      'missing parameter: response_type',
    ],
    [
      { response_type: 'token', response_mode: 'fragment' },
      'unsupported_response_type',
      'only response_type=code is supported',
    ],
    [
      { response_mode: 'fragment', code_challenge: undefined },
      'invalid_request',
      'only response_mode=query is supported',
    ],
    [
      { code_challenge: undefined, code_challenge_method: 'plain' },
      'invalid_request',
      'code_challenge is required (PKCE)',
    ],
    [
      { code_challenge: 'short', code_challenge_method: undefined },
      'invalid_request',
      'code_challenge_method must be S256',
    ],
    [{ code_challenge: 'short', max_age: 'soon' }, 'invalid_request', 'malformed code_challenge'],
    [{ max_age: 'soon' }, 'invalid_request', 'max_age must be a number of seconds'],
    [{ max_age: '1234567890' }, 'invalid_request', 'max_age must be a number of seconds'],
  ] as [Record<string, string | undefined>, string, string][])(
    '%j is redirected back with %s (%s)',
    async (overrides, error, description) => {
      const res = await request(auth.app).get(query(overrides));
      expect(res.status).toBe(303);
      const url = new URL(res.headers.location as string);
      expect(url.origin + url.pathname).toBe(redirectUri);
      expect(Object.fromEntries(url.searchParams)).toEqual({
        error,
        error_description: description,
        state: 'st',
        iss: 'http://auth.test',
      });
    },
  );

  it('a valid max_age and response_mode=query are taken', async () => {
    const res = await request(auth.app).get(query({ max_age: '0', response_mode: 'query' }));
    expect(res.status).toBe(200);
    expect(res.text).toContain('name="password"');
  });
});
