import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createClient,
  createE2eEnvironment,
  createUser,
  postForm,
  registerResource,
  runAdmin,
  startService,
  waitForReady,
  type RunningService,
} from './processes.js';

const notes = 'http://notes.tessera-e2e.local';
const archive = 'http://archive.tessera-e2e.local';

/**
 * One audience per service, across real processes: an auth server and two resource servers
 * built from the same code, each with its own AUDIENCE (resource identifier); resources,
 * clients and a user made with the admin CLI; tokens over real HTTP.
 */
describe('end to end: two resource servers, each accepting only tokens for itself', () => {
  const { dataDir, shared, authEnv } = createE2eEnvironment('audiences');
  let auth: RunningService;
  const servers: Record<'notes' | 'archive', RunningService | undefined> = {
    notes: undefined,
    archive: undefined,
  };
  const clients: Record<string, { id: string; secret: string }> = {};

  const tokenResponse = (form: Record<string, string>, client = clients.web!) =>
    postForm(`${auth.url}/oauth/token`, client, form);
  const token = async (form: Record<string, string>) => {
    const res = await tokenResponse(form);
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token?: string; scope: string };
  };
  const call = (server: 'notes' | 'archive', accessToken: string, path = '/api/notes') =>
    fetch(`${servers[server]!.url}${path}`, { headers: { Authorization: `Bearer ${accessToken}` } });
  const password = { grant_type: 'password', username: 'alice', password: 'alice-password' };

  beforeAll(async () => {
    auth = await startService('auth-server', authEnv);
    for (const id of ['notes-svc', 'archive-svc'])
      clients[id] = await createClient(authEnv, {
        id,
        grants: 'client_credentials',
        scopes: '',
        resources: '',
      });
    await registerResource(authEnv, {
      uri: notes,
      scopes: 'notes:read notes:write',
      serverClient: 'notes-svc',
    });
    // The archive is read-only: it understands notes:read alone.
    await registerResource(authEnv, { uri: archive, scopes: 'notes:read', serverClient: 'archive-svc' });
    clients.web = await createClient(authEnv, {
      id: 'web',
      grants: 'password,refresh_token,client_credentials',
      scopes: 'notes:read notes:write',
      resources: `${notes},${archive}`,
    });
    await createUser(authEnv, {
      username: 'alice',
      password: 'alice-password',
      scopes: 'notes:read notes:write',
    });
    const backchannel = {
      JWKS_URI: `${auth.url}/.well-known/jwks.json`,
      REVOCATION_FEED_URI: `${auth.url}/oauth/revocations`,
    };
    [servers.notes, servers.archive] = await Promise.all([
      startService('resource-server', { ...shared, ...backchannel, AUDIENCE: notes }),
      startService('resource-server', { ...shared, ...backchannel, AUDIENCE: archive }),
    ]);
    await Promise.all([servers.notes, servers.archive].map((s) => waitForReady(`${s.url}/readyz`)));
  }, 60_000);

  afterAll(async () => {
    const codes = await Promise.all([servers.notes?.stop(), servers.archive?.stop(), auth?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    expect(codes).toEqual([0, 0, 0]);
  });

  it('a token for one service is refused by the other (no cross-service replay), with its metadata named', async () => {
    const forNotes = (await token({ ...password, resource: notes })).access_token;
    expect((await call('notes', forNotes)).status).toBe(200);
    const replayed = await call('archive', forNotes);
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toEqual({
      error: 'invalid_token',
      error_description: 'audience not accepted',
    });
    expect(replayed.headers.get('www-authenticate')).toContain(
      `resource_metadata="${archive}/.well-known/oauth-protected-resource"`,
    );

    const forArchive = (await token({ grant_type: 'client_credentials', resource: archive })).access_token;
    expect((await call('archive', forArchive)).status).toBe(200);
    expect((await call('notes', forArchive)).status).toBe(401);
  });

  it('the scope follows the resource: the archive understands notes:read only', async () => {
    const forArchive = await token({ ...password, resource: archive });
    expect(forArchive.scope).toBe('notes:read');
    const res = await tokenResponse({ ...password, resource: archive, scope: 'notes:write' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_scope');
  });

  it('naming no resource, or one the client may not have, is invalid_target', async () => {
    const forms: Record<string, string>[] = [
      { grant_type: 'client_credentials' },
      { grant_type: 'client_credentials', resource: 'http://elsewhere.tessera-e2e.local' },
      { ...password, resource: 'http://elsewhere.tessera-e2e.local' },
    ];
    for (const form of forms) {
      const res = await tokenResponse(form);
      expect({ status: res.status, body: await res.json() }).toMatchObject({
        status: 400,
        body: { error: 'invalid_target' },
      });
    }
  });

  it('a refresh narrows a two-service grant to one service; the next refresh may have both again', async () => {
    // Two `resource` parameters (RFC 8707 §2 allows repeating it).
    const both = await fetch(`${auth.url}/oauth/token`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`web:${clients.web!.secret}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams([...Object.entries(password), ['resource', notes], ['resource', archive]]),
    });
    expect(both.status).toBe(200);
    const first = (await both.json()) as { access_token: string; refresh_token: string };
    expect((await call('notes', first.access_token)).status).toBe(200);
    expect((await call('archive', first.access_token)).status).toBe(200);

    const narrowed = await token({
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      resource: archive,
    });
    expect((await call('archive', narrowed.access_token)).status).toBe(200);
    expect((await call('notes', narrowed.access_token)).status).toBe(401);

    const again = await token({ grant_type: 'refresh_token', refresh_token: narrowed.refresh_token! });
    expect((await call('notes', again.access_token)).status).toBe(200);
  });

  it("introspection answers a resource's own server only", async () => {
    const forNotes = (await token({ grant_type: 'client_credentials', resource: notes })).access_token;
    const introspect = async (client: { id: string; secret: string }) =>
      (await (await postForm(`${auth.url}/oauth/introspect`, client, { token: forNotes })).json()) as Record<
        string,
        unknown
      >;
    expect(await introspect(clients['notes-svc']!)).toMatchObject({ active: true, aud: notes });
    expect(await introspect(clients['archive-svc']!)).toEqual({ active: false });
    expect(await introspect(clients.web!)).toEqual({ active: false });
  });

  it('each serves RFC 9728 metadata for its own resource', async () => {
    for (const [name, resource] of [
      ['notes', notes],
      ['archive', archive],
    ] as const) {
      const res = await fetch(`${servers[name]!.url}/.well-known/oauth-protected-resource`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        resource,
        authorization_servers: [shared.ISSUER],
        scopes_supported: ['notes:read', 'notes:write'],
        bearer_methods_supported: ['header'],
      });
    }
  });

  it('the admin CLI lists resources, and refuses bad ones with one line', async () => {
    const list = await runAdmin(['resources', 'list', '--json'], authEnv);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          resource: notes,
          scopes: ['notes:read', 'notes:write'],
          server_client_id: 'notes-svc',
        }),
        expect.objectContaining({
          resource: archive,
          scopes: ['notes:read'],
          server_client_id: 'archive-svc',
        }),
      ]),
    );
    for (const [args, message] of [
      [['resources', 'create', '--uri', 'https://x.test#frag', '--scopes', 'a'], 'must not have a fragment'],
      [['resources', 'create', '--uri', notes, '--scopes', 'a'], 'already exists'],
      [['resources', 'create', '--uri', 'notes', '--scopes', 'a'], 'absolute URI'],
      [['resources', 'delete', '--uri', 'https://nothing.test'], 'no resource'],
      [
        [
          'clients',
          'create',
          '--client-id',
          'x',
          '--grants',
          'client_credentials',
          '--resources',
          'https://nothing.test',
        ],
        'no resource "https://nothing.test"',
      ],
    ] as const) {
      const run = await runAdmin(args, authEnv);
      expect({ code: run.code, lines: run.stderr.trim().split('\n').length }).toEqual({ code: 1, lines: 1 });
      expect(run.stderr).toContain(message);
    }
  }, 60_000);
});
