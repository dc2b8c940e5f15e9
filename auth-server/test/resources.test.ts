import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { storeCacheTtlMs } from '../src/storage/storage.js';
import { resourceIdentifierProblem } from '../src/resources/resources.js';
import {
  createCheapHasher,
  createClientFor,
  createTestAuth,
  decodeClaims,
  expectError,
  form,
  postAsClient,
  type TestAuth,
} from './helpers.js';

const notes = 'https://notes.test';
const billing = 'https://billing.test';

/**
 * Resource indicators (RFC 8707) at the token endpoint, and introspection limited to a
 * resource's own server (RFC 7662 §4), on a real auth server app over SQLite.
 */
describe('resources: one audience per service', () => {
  let auth: TestAuth;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    auth = await createTestAuth({}, { hasher: await createCheapHasher() });
    const { resources, users } = auth.services;
    // The resource servers authenticate as clients of their own (to introspect).
    for (const clientId of ['notes-svc', 'billing-svc'])
      secrets[clientId] = await createClientFor(auth, {
        clientId,
        grants: 'client_credentials',
        scopes: '',
        resources: '',
      });
    await resources.create({ uri: notes, scopes: 'notes:read notes:write', serverClientId: 'notes-svc' });
    await resources.create({ uri: billing, scopes: 'billing:read', serverClientId: 'billing-svc' });
    secrets.web = await createClientFor(auth, {
      clientId: 'web',
      grants: 'password,refresh_token,client_credentials',
      scopes: 'notes:read notes:write billing:read',
      resources: `${notes},${billing}`,
    });
    secrets.single = await createClientFor(auth, {
      clientId: 'single',
      grants: 'client_credentials',
      scopes: 'notes:read billing:read',
      resources: notes,
    });
    secrets.nowhere = await createClientFor(auth, {
      clientId: 'nowhere',
      grants: 'client_credentials',
      scopes: 'notes:read',
      resources: '',
    });
    await users.create({ username: 'alice', password: 'alice-password', scopes: 'notes:read billing:read' });
  });
  afterAll(async () => {
    await auth.close();
  });

  const token = (clientId: string, ...pairs: [string, string][]) =>
    postAsClient(auth, '/oauth/token', clientId, secrets[clientId]!, ...pairs);
  const cc = (clientId: string, ...pairs: [string, string][]) =>
    token(clientId, ['grant_type', 'client_credentials'], ...pairs);
  const login = (...pairs: [string, string][]) =>
    token('web', ['grant_type', 'password'], ['username', 'alice'], ['password', 'alice-password'], ...pairs);
  const introspect = (clientId: string, accessToken: string) =>
    postAsClient(auth, '/oauth/introspect', clientId, secrets[clientId]!, ['token', accessToken]);
  const claims = (res: request.Response) => decodeClaims((res.body as { access_token: string }).access_token);

  describe('the resource parameter (RFC 8707 §2)', () => {
    it("names the token's aud, and the scope defaults to what the client may have there", async () => {
      const res = await cc('web', ['resource', billing]);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ scope: 'billing:read' });
      expect(claims(res)).toMatchObject({ aud: billing, scope: 'billing:read', sub: 'web' });
    });

    it('may be omitted by a client allowed exactly one resource', async () => {
      const res = await cc('single');
      expect(res.status).toBe(200);
      // billing:read is the client's, but the notes API does not understand it: never "everything".
      expect(claims(res)).toMatchObject({ aud: notes, scope: 'notes:read' });
    });

    it('repeated: aud is the list, the scope what any of them understands', async () => {
      const res = await cc(
        'web',
        ['resource', notes],
        ['resource', billing],
        ['scope', 'notes:read billing:read'],
      );
      expect(res.status).toBe(200);
      expect(claims(res)).toMatchObject({ aud: [notes, billing], scope: 'notes:read billing:read' });
    });

    it.each([
      ['omitted by a client allowed several', 'web', []],
      ['omitted by a client allowed none', 'nowhere', []],
      ['unknown', 'web', [['resource', 'https://unknown.test']]],
      ['registered but not allowed to the client', 'single', [['resource', billing]]],
      ['not allowed to a client allowed none', 'nowhere', [['resource', notes]]],
      [
        'one of two not allowed',
        'single',
        [
          ['resource', notes],
          ['resource', billing],
        ],
      ],
      ['not a URI at all', 'web', [['resource', 'notes']]],
    ] as [string, string, [string, string][]][])('%s: 400 invalid_target', async (_name, clientId, pairs) => {
      expectError(await cc(clientId, ...pairs), 400, 'invalid_target');
    });

    it('is invalid_target for the password grant too, before any password work', async () => {
      expectError(await login(), 400, 'invalid_target');
      expectError(await login(['resource', 'https://unknown.test']), 400, 'invalid_target');
    });

    it('a scope the resource does not understand is invalid_scope, even one the client may have', async () => {
      expectError(await cc('web', ['resource', billing], ['scope', 'notes:read']), 400, 'invalid_scope');
      expectError(await cc('single', ['scope', 'billing:read']), 400, 'invalid_scope');
      expectError(await login(['resource', notes], ['scope', 'billing:read']), 400, 'invalid_scope');
    });

    it('the user grant carries the intersection of client, user and resource', async () => {
      const res = await login(['resource', notes]);
      expect(res.status).toBe(200);
      // The client may have notes:write and the resource understands it, but alice does not hold it.
      expect(claims(res)).toMatchObject({ aud: notes, scope: 'notes:read' });
    });

    it('other parameters still may not be repeated', async () => {
      const res = await request(auth.app)
        .post('/oauth/token')
        .set('Authorization', `Basic ${Buffer.from(`web:${secrets.web}`).toString('base64')}`)
        .type('form')
        .send(
          form(['grant_type', 'client_credentials'], ['scope', 'a'], ['scope', 'b'], ['resource', notes]),
        );
      expectError(res, 400, 'invalid_request');
    });
  });

  describe('refresh (RFC 8707 §2.2): keeps the grant’s resources, may narrow, never widens', () => {
    it('narrows the access token to one of the grant’s resources; the successor keeps both', async () => {
      const first = await login(['resource', notes], ['resource', billing]);
      expect(first.status).toBe(200);
      expect(claims(first)).toMatchObject({ aud: [notes, billing], scope: 'notes:read billing:read' });

      const narrowed = await token(
        'web',
        ['grant_type', 'refresh_token'],
        ['refresh_token', first.body.refresh_token as string],
        ['resource', billing],
      );
      expect(narrowed.status).toBe(200);
      expect(claims(narrowed)).toMatchObject({ aud: billing, scope: 'billing:read' });

      const again = await token(
        'web',
        ['grant_type', 'refresh_token'],
        ['refresh_token', narrowed.body.refresh_token as string],
      );
      expect(again.status).toBe(200);
      expect(claims(again)).toMatchObject({ aud: [notes, billing], scope: 'notes:read billing:read' });
    });

    it('refuses a resource outside the grant with invalid_target, and the refresh token stays usable', async () => {
      const first = await login(['resource', notes]);
      const refreshToken = first.body.refresh_token as string;
      const widened = await token(
        'web',
        ['grant_type', 'refresh_token'],
        ['refresh_token', refreshToken],
        ['resource', billing],
      );
      expectError(widened, 400, 'invalid_target');
      const refreshed = await token('web', ['grant_type', 'refresh_token'], ['refresh_token', refreshToken]);
      expect(refreshed.status).toBe(200);
      expect(claims(refreshed)).toMatchObject({ aud: notes });
    });

    it('a scope the narrowed resource does not understand is invalid_scope', async () => {
      const first = await login(['resource', notes], ['resource', billing]);
      const res = await token(
        'web',
        ['grant_type', 'refresh_token'],
        ['refresh_token', first.body.refresh_token as string],
        ['resource', billing],
        ['scope', 'notes:read'],
      );
      expectError(res, 400, 'invalid_scope');
    });
  });

  describe('introspection (RFC 7662 §4): only the server of a resource the token is for', () => {
    it("each resource's server sees its own tokens; every other client learns nothing", async () => {
      const forNotes = (await cc('web', ['resource', notes])).body.access_token as string;
      expect((await introspect('notes-svc', forNotes)).body).toMatchObject({ active: true, aud: notes });
      for (const other of ['billing-svc', 'web', 'single'])
        expect((await introspect(other, forNotes)).body).toEqual({ active: false });

      const forBoth = (await cc('web', ['resource', notes], ['resource', billing])).body
        .access_token as string;
      expect((await introspect('notes-svc', forBoth)).body).toMatchObject({ active: true });
      expect((await introspect('billing-svc', forBoth)).body).toMatchObject({ active: true });
    });

    it('a resource whose server is changed: the new server sees its tokens, the old one no longer', async () => {
      const forBilling = (await cc('web', ['resource', billing])).body.access_token as string;
      await auth.services.resources.update(billing, { serverClientId: 'notes-svc' });
      try {
        expect((await introspect('notes-svc', forBilling)).body).toMatchObject({ active: true });
        expect((await introspect('billing-svc', forBilling)).body).toEqual({ active: false });
      } finally {
        await auth.services.resources.update(billing, { serverClientId: 'billing-svc' });
      }
    });
  });

  describe('registration', () => {
    it.each([
      ['https://notes.example.com', undefined],
      ['https://api.example.com/notes', undefined],
      ['urn:example:notes', undefined],
      ['notes', 'absolute URI'],
      ['/notes', 'absolute URI'],
      ['https://notes.example.com#frag', 'fragment'],
      ['https://notes.example.com/?v=1', 'query'],
      ['https://notes example.com', 'absolute URI'],
      ['', '1-255'],
    ])('%j: %s', (uri, problem) => {
      const found = resourceIdentifierProblem(uri);
      if (problem === undefined) expect(found).toBeUndefined();
      else expect(found).toContain(problem);
    });

    it('refuses duplicate, unknown server clients, public server clients and unknown resources for a client', async () => {
      const { resources, clients } = auth.services;
      await expect(resources.create({ uri: notes, scopes: 'x' })).rejects.toThrow('already exists');
      await expect(
        resources.create({ uri: 'https://x.test', scopes: 'x', serverClientId: 'ghost' }),
      ).rejects.toThrow('no client "ghost"');
      await expect(resources.create({ uri: 'https://x.test', scopes: '' })).rejects.toThrow('scopes');
      await expect(
        clients.create({
          clientId: 'c',
          grants: 'client_credentials',
          scopes: '',
          isPublic: false,
          resources: 'https://ghost.test',
        }),
      ).rejects.toThrow('no resource "https://ghost.test"');
      expect(await auth.services.storage.clients.find('c')).toBeUndefined();
    });

    it('deleting a resource takes it off every client: tokens for it are invalid_target from then on', async () => {
      const temp = 'https://temp.test';
      await auth.services.resources.create({ uri: temp, scopes: 'notes:read' });
      secrets.temp = await createClientFor(auth, {
        clientId: 'temp',
        grants: 'client_credentials',
        scopes: 'notes:read',
        resources: `${temp},${notes}`,
      });
      expect((await cc('temp', ['resource', temp])).status).toBe(200);
      await auth.services.resources.delete(temp);
      expect((await auth.services.storage.clients.find('temp'))?.resources).toEqual([notes]);
      // At once for the resource itself; the client's cached list within the cache lifetime.
      expectError(await cc('temp', ['resource', temp]), 400, 'invalid_target');
      auth.clock.advance(storeCacheTtlMs);
      // Now allowed exactly one resource, the client may omit it.
      expect(claims(await cc('temp'))).toMatchObject({ aud: notes });
    });

    it('clients set-resources replaces the list; the next token request sees it', async () => {
      await auth.services.clients.setResources('single', `${notes},${billing}`);
      expectError(await cc('single'), 400, 'invalid_target');
      expect(claims(await cc('single', ['resource', billing]))).toMatchObject({ aud: billing });
      await auth.services.clients.setResources('single', notes);
      expect(claims(await cc('single'))).toMatchObject({ aud: notes });
      await expect(auth.services.clients.setResources('ghost', notes)).rejects.toThrow('no client');
    });
  });
});
