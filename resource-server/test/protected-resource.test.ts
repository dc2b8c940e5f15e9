import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createJwksKeyProvider, protectedResourceMetadataUrl, type JwksKeyProvider } from '@tessera/shared';
import type { Express } from 'express';
import { SignJWT } from 'jose';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { clock, issuer, logger, nowSeconds, signing, signingJwk, signingThumbprint } from './helpers.js';

/** This service's resource identifier, and another service's. */
const notes = 'https://notes.test';
const billing = 'https://billing.test';
const metadataUrl = 'https://notes.test/.well-known/oauth-protected-resource';

let kid: string;
let keys: JwksKeyProvider;
let app: Express;

beforeAll(async () => {
  kid = await signingThumbprint();
  const fetch = (() =>
    Promise.resolve(
      Response.json({ keys: [signingJwk(kid)] }, { headers: { 'cache-control': 'public, max-age=300' } }),
    )) as typeof globalThis.fetch;
  keys = createJwksKeyProvider({ jwksUri: `${issuer}/.well-known/jwks.json`, logger, clock, fetch });
  await keys.start();
  app = createApp({ config: { issuer, audience: notes }, logger, keys, clock });
});
afterAll(() => keys.stop());

/** A token as the auth server signs one for `aud`. */
function tokenFor(aud: string | string[], scope = 'notes:read'): Promise<string> {
  return new SignJWT({ client_id: 'web', scope, jti: randomUUID() })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
    .setIssuer(issuer)
    .setAudience(aud)
    .setSubject('alice')
    .setIssuedAt(nowSeconds())
    .setExpirationTime(nowSeconds() + 900)
    .sign(signing.privateKey);
}

describe('a resource server answers only for its own resource', () => {
  it('accepts a token for it, alone or among others', async () => {
    for (const aud of [notes, [billing, notes]]) {
      const res = await request(app)
        .get('/api/notes')
        .set('Authorization', `Bearer ${await tokenFor(aud)}`);
      expect(res.status).toBe(200);
    }
  });

  it('refuses a token for another service: 401 invalid_token, whatever its signature and scope', async () => {
    const res = await request(app)
      .get('/api/notes')
      .set('Authorization', `Bearer ${await tokenFor(billing, 'notes:read notes:write')}`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'audience not accepted' });
  });

  it('the shared verifier cannot be built without an audience', () => {
    for (const audience of ['', undefined])
      expect(() =>
        createApp({ config: { issuer, audience: audience as unknown as string }, logger, keys, clock }),
      ).toThrow('audience');
  });
});

describe('RFC 9728 protected-resource metadata', () => {
  it('is served at the well-known path its identifier implies, cacheable', async () => {
    const res = await request(app).get('/.well-known/oauth-protected-resource');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.body).toEqual({
      resource: notes,
      authorization_servers: [issuer],
      scopes_supported: ['notes:read', 'notes:write'],
      bearer_methods_supported: ['header'],
    });
  });

  it('for an identifier with a path, under that path (§3.1)', async () => {
    const pathApp = createApp({
      config: { issuer, audience: 'https://api.test/notes/' },
      logger,
      keys,
      clock,
    });
    expect(protectedResourceMetadataUrl('https://api.test/notes/')).toBe(
      'https://api.test/.well-known/oauth-protected-resource/notes',
    );
    const res = await request(pathApp).get('/.well-known/oauth-protected-resource/notes');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ resource: 'https://api.test/notes/' });
  });

  it.each([
    ['no token', async () => ({})],
    ['an invalid token', async () => ({ Authorization: 'Bearer not.a.token' })],
    ['a token for another service', async () => ({ Authorization: `Bearer ${await tokenFor(billing)}` })],
  ])('every Bearer challenge names it in resource_metadata (§5.1): %s', async (_name, headers) => {
    const res = await request(app)
      .get('/api/me')
      .set(await headers());
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="tessera"/);
    expect(res.headers['www-authenticate']).toContain(`resource_metadata="${metadataUrl}"`);
  });

  it('and so does insufficient_scope (403)', async () => {
    const res = await request(app)
      .post('/api/notes')
      .set('Authorization', `Bearer ${await tokenFor(notes, 'notes:read')}`)
      .send({ text: 'x' });
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(res.headers['www-authenticate']).toContain(`resource_metadata="${metadataUrl}"`);
  });

  it('a legacy identifier that is no URL has metadata but no URL to point at', async () => {
    expect(protectedResourceMetadataUrl('tessera-api')).toBeUndefined();
    const legacy = createApp({ config: { issuer, audience: 'tessera-api' }, logger, keys, clock });
    expect((await request(legacy).get('/.well-known/oauth-protected-resource')).body).toMatchObject({
      resource: 'tessera-api',
    });
    expect((await request(legacy).get('/api/me')).headers['www-authenticate']).toBe('Bearer realm="tessera"');
  });
});

describe('exchanged tokens (RFC 8693 act)', () => {
  const withAct = (act: unknown) =>
    new SignJWT({ client_id: 'notes-svc', scope: 'notes:read', jti: randomUUID(), act })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .setIssuer(issuer)
      .setAudience(notes)
      .setSubject('alice')
      .setIssuedAt(nowSeconds())
      .setExpirationTime(nowSeconds() + 900)
      .sign(signing.privateKey);

  it('are accepted with their actor chain', async () => {
    const act = { sub: 'notes-svc', act: { sub: 'web-bff' } };
    const res = await request(app)
      .get('/api/me')
      .set('Authorization', `Bearer ${await withAct(act)}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sub: 'alice', client_id: 'notes-svc', act });
  });

  it.each([
    ['a string', 'notes-svc'],
    ['no sub', { act: { sub: 'x' } }],
    ['a nested non-object', { sub: 'a', act: 5 }],
  ])('a malformed act (%s) is invalid_token', async (_name, act) => {
    const res = await request(app)
      .get('/api/me')
      .set('Authorization', `Bearer ${await withAct(act)}`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'token act malformed' });
  });
});
