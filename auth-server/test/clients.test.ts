import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AppError, createFixedClock, newKeyPairSync } from '@tessera/shared';
import { createClientAuthenticator, type ClientAuthenticator } from '../src/clients/client-auth.js';
import { createClientService, type ClientService } from '../src/clients/clients.js';
import type { Storage } from '../src/storage/storage.js';
import { UserInputError } from '../src/errors.js';
import { createTestStorage } from './helpers.js';

let store: Awaited<ReturnType<typeof createTestStorage>>;
let storage: Storage;
let clients: ClientService;
/** What the client service recorded in the audit trail. */
const audited: Record<string, unknown>[] = [];
const clock = createFixedClock(Date.UTC(2026, 0, 1));

beforeAll(async () => {
  store = await createTestStorage();
  storage = store.storage;
  clients = createClientService({
    clients: storage.clients,
    requireResources: (uris) => Promise.resolve([...uris]),
    clock,
    production: false,
    deleteClient: (id) => storage.clients.delete(id),
    audit: { record: (event, fields) => audited.push({ event, ...fields }) },
  });
});

describe('production mode', () => {
  test('refuses to register a public client for the password grant (RFC 9700 §2.4), but allows it in development', async () => {
    const production = createClientService({
      clients: storage.clients,
      requireResources: (uris) => Promise.resolve([...uris]),
      clock,
      production: true,
      deleteClient: (id) => storage.clients.delete(id),
      audit: { record: () => undefined },
    });
    await expect(
      production.create({ clientId: 'spa-prod', grants: 'password', scopes: 'a', isPublic: true }),
    ).rejects.toThrow(/production mode refuses the password grant for a public client/);
    expect(await storage.clients.find('spa-prod')).toBeUndefined();
    await expect(
      production.create({ clientId: 'spa-prod', grants: 'refresh_token', scopes: 'a', isPublic: true }),
    ).resolves.toBeDefined();
    await expect(
      clients.create({ clientId: 'spa-dev', grants: 'password', scopes: 'a', isPublic: true }),
    ).resolves.toBeDefined();
  });
});

afterAll(async () => {
  await store.close();
});

describe('create', () => {
  test('a confidential client gets a 256-bit base64url secret; only its SHA-256 hex digest is stored', async () => {
    const { client, secret } = await clients.create({
      clientId: 'svc',
      grants: 'client_credentials',
      scopes: 'notes:read',
      isPublic: false,
    });
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret ?? '', 'base64url')).toHaveLength(32);

    const stored = await storage.clients.find('svc');
    expect(stored).toEqual(client);
    expect(stored?.secretDigest).toBe(
      createHash('sha256')
        .update(secret ?? '')
        .digest('hex'),
    );
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(stored).toMatchObject({
      isPublic: false,
      grants: ['client_credentials'],
      scopes: ['notes:read'],
      createdAt: clock.now(),
    });
  });

  test('two clients get different secrets', async () => {
    const a = await clients.create({ clientId: 'svc-a', grants: 'password', scopes: '', isPublic: false });
    const b = await clients.create({ clientId: 'svc-b', grants: 'password', scopes: '', isPublic: false });
    expect(a.secret).not.toBe(b.secret);
  });

  test('a public client gets no secret and no digest', async () => {
    const { secret } = await clients.create({
      clientId: 'spa',
      grants: 'password',
      scopes: 'a',
      isPublic: true,
    });
    expect(secret).toBeUndefined();
    expect(await storage.clients.find('spa')).toMatchObject({ isPublic: true, secretDigest: null });
  });

  test('grants are parsed from commas and/or spaces, de-duplicated', async () => {
    await clients.create({
      clientId: 'multi',
      grants: 'password, client_credentials refresh_token,password',
      scopes: '',
      isPublic: false,
    });
    expect((await storage.clients.find('multi'))?.grants).toEqual([
      'password',
      'client_credentials',
      'refresh_token',
    ]);
  });

  test.each([
    ['an unknown grant', 'password,implicit'],
    ['no grant', ''],
    ['only separators', ' , '],
  ])('%s is a UserInputError, and nothing is stored', async (_what, grants) => {
    await expect(
      clients.create({ clientId: 'bad-grants', grants, scopes: '', isPublic: false }),
    ).rejects.toThrow(UserInputError);
    expect(await storage.clients.find('bad-grants')).toBeUndefined();
  });

  test('a public client may not use client_credentials (RFC 6749 §4.4)', async () => {
    await expect(
      clients.create({ clientId: 'pub-cc', grants: 'client_credentials', scopes: '', isPublic: true }),
    ).rejects.toThrow(UserInputError);
    expect(await storage.clients.find('pub-cc')).toBeUndefined();
  });

  test.each([
    ['with a space', 'a b'],
    ['with a colon', 'a:b'],
    ['empty', ''],
    ['65 characters', 'c'.repeat(65)],
  ])('an invalid client id (%s) is a UserInputError', async (_what, clientId) => {
    await expect(
      clients.create({ clientId, grants: 'password', scopes: '', isPublic: false }),
    ).rejects.toThrow(UserInputError);
  });

  test('malformed scopes are a UserInputError', async () => {
    await expect(
      clients.create({ clientId: 'bad-scope', grants: 'password', scopes: 'a "b"', isPublic: false }),
    ).rejects.toThrow(UserInputError);
  });

  test('a duplicate client id is a UserInputError, and the stored digest is unchanged', async () => {
    const before = await storage.clients.find('svc');
    const attempt = clients.create({ clientId: 'svc', grants: 'password', scopes: '', isPublic: false });
    await expect(attempt).rejects.toThrow(UserInputError);
    await expect(attempt).rejects.toThrow('already exists');
    expect(await storage.clients.find('svc')).toEqual(before);
  });
});

describe('authenticate', () => {
  let secret: string;
  let auth: ClientAuthenticator;
  beforeAll(async () => {
    auth = createClientAuthenticator({
      clients: storage.clients,
      clock,
      issuer: 'http://auth.test',
      clockToleranceSeconds: 30,
      jtis: storage.assertionJtis,
    });
    secret =
      (await clients.create({ clientId: 'auth-me', grants: 'password', scopes: '', isPublic: false }))
        .secret ?? '';
  });

  const expectInvalidClient = async (promise: Promise<unknown>) => {
    await expect(promise).rejects.toBeInstanceOf(AppError);
    await expect(promise).rejects.toMatchObject({ code: 'invalid_client', status: 401 });
  };

  test('the right secret, by either method, returns the client', async () => {
    for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
      expect((await auth.authenticate({ method, clientId: 'auth-me', secret })).clientId).toBe('auth-me');
    }
  });

  test('a wrong secret, an unknown client, or a malformed client id is invalid_client', async () => {
    await expectInvalidClient(
      auth.authenticate({ method: 'client_secret_basic', clientId: 'auth-me', secret: 'x' }),
    );
    await expectInvalidClient(
      auth.authenticate({ method: 'client_secret_basic', clientId: 'nobody', secret }),
    );
    await expectInvalidClient(auth.authenticate({ method: 'client_secret_basic', clientId: 'a b', secret }));
  });

  test('a confidential client without a secret is invalid_client', async () => {
    await expectInvalidClient(auth.authenticate({ method: 'none', clientId: 'auth-me' }));
  });

  test('a public client is accepted by id alone, but refused when it presents a secret', async () => {
    expect((await auth.authenticate({ method: 'none', clientId: 'spa' })).clientId).toBe('spa');
    await expectInvalidClient(
      auth.authenticate({ method: 'client_secret_post', clientId: 'spa', secret: '' }),
    );
  });

  test('an unknown public client id is invalid_client', async () => {
    await expectInvalidClient(auth.authenticate({ method: 'none', clientId: 'nobody' }));
  });
});

describe('private_key_jwt clients: registered with a JWK Set of public keys', () => {
  const rsa = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
  const ec = newKeyPairSync({ type: 'ec', namedCurve: 'P-256' });
  const publicRsa = () => rsa.publicKey.export({ format: 'jwk' });
  const publicEc = () => ec.publicKey.export({ format: 'jwk' });
  const create = (clientId: string, jwks: unknown) =>
    clients.create({ clientId, grants: 'client_credentials', scopes: 'a', isPublic: false, jwks });

  test('gets no secret; only the allow-listed public members are stored, with the alg the key verifies', async () => {
    const { client, secret } = await create('keyed', {
      keys: [
        { ...publicRsa(), kid: 'r1', use: 'sig', x5c: ['MIIB...'], ext: true },
        { ...publicEc(), kid: 'e1', alg: 'ES256' },
      ],
    });
    expect(secret).toBeUndefined();
    const stored = await storage.clients.find('keyed');
    expect(stored).toEqual(client);
    expect(stored?.secretDigest).toBeNull();
    expect(stored?.jwks).toEqual([
      { kty: 'RSA', alg: 'RS256', kid: 'r1', n: publicRsa().n, e: publicRsa().e },
      { kty: 'EC', alg: 'ES256', kid: 'e1', crv: 'P-256', x: publicEc().x, y: publicEc().y },
    ]);
  });

  test.each(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'])(
    'a key with the private member %s is refused, and nothing is stored',
    async (member) => {
      const attempt = create(`private-${member}`, { keys: [{ ...publicRsa(), [member]: 'AQAB' }] });
      await expect(attempt).rejects.toThrow(UserInputError);
      await expect(attempt).rejects.toThrow(
        `key 1 has private or symmetric members (${member}): register only the public key`,
      );
      expect(await storage.clients.find(`private-${member}`)).toBeUndefined();
    },
  );

  test('a whole private JWK (as exported by mistake) is refused, naming its private members', async () => {
    await expect(create('private-all', { keys: [rsa.privateKey.export({ format: 'jwk' })] })).rejects.toThrow(
      /key 1 has private or symmetric members \(d, p, q, dp, dq, qi\)/,
    );
  });

  test.each<[string, unknown, RegExp]>([
    ['not a JWK Set', [publicRsa()], /JSON object with a "keys" array/],
    ['an empty set', { keys: [] }, /1 to 10 keys/],
    ['a symmetric key', { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, /private or symmetric members \(k\)/],
    ['an RSA key for another alg', { keys: [{ ...publicRsa(), alg: 'PS256' }] }, /must be for RS256/],
    [
      'an RSA key under 2048 bits',
      { keys: [newKeyPairSync({ type: 'rsa', modulusLength: 1024 }).publicKey.export({ format: 'jwk' })] },
      /at least 2048 bits/,
    ],
    [
      'an EC key on another curve',
      { keys: [newKeyPairSync({ type: 'ec', namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' })] },
      /P-256 for ES256/,
    ],
    [
      'an EC point not on the curve',
      { keys: [{ ...publicEc(), y: publicEc().x }] },
      /not a valid EC public key/,
    ],
    ['an encryption key', { keys: [{ ...publicRsa(), use: 'enc' }] }, /use must be "sig"/],
    ['two keys without kids', { keys: [publicRsa(), publicEc()] }, /each needs its own kid/],
    [
      'two keys with one kid',
      {
        keys: [
          { ...publicRsa(), kid: 'a' },
          { ...publicEc(), kid: 'a' },
        ],
      },
      /each needs its own kid/,
    ],
  ])('%s is refused with a clear message', async (_name, jwks, message) => {
    await expect(create('bad-keys', jwks)).rejects.toThrow(message);
    expect(await storage.clients.find('bad-keys')).toBeUndefined();
  });

  test('a public client cannot have keys', async () => {
    await expect(
      clients.create({
        clientId: 'pub-keys',
        grants: 'refresh_token',
        scopes: '',
        isPublic: true,
        jwks: { keys: [publicRsa()] },
      }),
    ).rejects.toThrow(UserInputError);
  });

  test('setKeys replaces the keys of a key client, and refuses a secret client or an unknown one', async () => {
    await create('rotating', { keys: [{ ...publicRsa(), kid: 'old' }] });
    const replaced = await clients.setKeys('rotating', { keys: [{ ...publicEc(), kid: 'new' }] });
    expect(replaced.map((key) => key.kid)).toEqual(['new']);
    expect((await storage.clients.find('rotating'))?.jwks?.map((key) => key.kid)).toEqual(['new']);
    await expect(clients.setKeys('svc', { keys: [publicRsa()] })).rejects.toThrow(
      'client "svc" does not authenticate with private_key_jwt; it has no keys to replace',
    );
    expect((await storage.clients.find('svc'))?.jwks).toBeNull();
    await expect(clients.setKeys('nobody', { keys: [publicRsa()] })).rejects.toThrow('no client "nobody"');
    // Bad keys change nothing.
    await expect(clients.setKeys('rotating', { keys: [{ ...publicRsa(), d: 'AQAB' }] })).rejects.toThrow(
      UserInputError,
    );
    expect((await storage.clients.find('rotating'))?.jwks?.map((key) => key.kid)).toEqual(['new']);
  });
});

describe('redirect URIs for the authorization_code grant', () => {
  const create = (clientId: string, redirectUris: string, extra: { grants?: string; post?: string } = {}) =>
    clients.create({
      clientId,
      grants: extra.grants ?? 'authorization_code,refresh_token',
      scopes: 'a',
      isPublic: true,
      redirectUris,
      ...(extra.post === undefined ? {} : { postLogoutRedirectUris: extra.post }),
    });

  test('https, loopback IP literals with any port (RFC 8252 §7.3) and private-use schemes are accepted', async () => {
    const { client } = await create(
      'native',
      'https://app.example/cb, http://127.0.0.1:49152/cb http://[::1]:8080/cb,com.example.app:/oauth',
      { post: 'https://app.example/' },
    );
    expect(client.redirectUris).toEqual([
      'https://app.example/cb',
      'http://127.0.0.1:49152/cb',
      'http://[::1]:8080/cb',
      'com.example.app:/oauth',
    ]);
    expect(client.postLogoutRedirectUris).toEqual(['https://app.example/']);
    expect((await storage.clients.find('native'))?.redirectUris).toEqual(client.redirectUris);
  });

  test.each([
    ['http://app.example/cb', /http only on 127.0.0.1/],
    ['http://localhost:3000/cb', /http only on 127.0.0.1/],
    ['https://*.example/cb', /wildcards/],
    ['https://app.example/cb#x', /fragment/],
    ['https://user:pw@app.example/cb', /user info/],
    ['javascript:alert(1)', /javascript scheme/],
    ['data:text/html,x', /data scheme/],
    ['myapp:/cb', /reverse domain name/],
    ['/relative/cb', /not an absolute URI/],
  ])('%s is refused', async (uri, message) => {
    await expect(create('bad', uri)).rejects.toThrow(message);
    expect(await storage.clients.find('bad')).toBeUndefined();
  });

  test('authorization_code needs redirect URIs; other grants take none', async () => {
    await expect(create('none', '')).rejects.toThrow(/needs --redirect-uris/);
    await expect(create('cc', 'https://app.example/cb', { grants: 'refresh_token' })).rejects.toThrow(
      /go with the authorization_code grant/,
    );
  });
});

describe('the audit trail', () => {
  test('registering, changing and deleting a client are recorded by the service whoever calls it', async () => {
    audited.length = 0;
    await clients.create({ clientId: 'audited', grants: 'client_credentials', scopes: 'a', isPublic: false });
    await clients.setResources('audited', 'https://api.test');
    await clients.delete('audited');
    await expect(clients.delete('audited')).rejects.toThrow(UserInputError);
    expect(audited).toEqual([
      {
        event: 'client.created',
        client_id: 'audited',
        public: false,
        auth_method: undefined,
        grants: ['client_credentials'],
        scopes: ['a'],
        resources: [],
      },
      { event: 'client.resources_replaced', client_id: 'audited', resources: ['https://api.test'] },
      { event: 'client.deleted', client_id: 'audited' },
    ]);
  });
});
