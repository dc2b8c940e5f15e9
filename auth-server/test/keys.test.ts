import { createAuditTrail } from '../src/audit.js';
import { createPublicKey, randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { calculateJwkThumbprint, compactVerify, importJWK, SignJWT } from 'jose';
import { createFixedClock } from '@tessera/shared';
import { createKeyEncryptionKey, KeyDecryptionError } from '../src/keys/encryption.js';
import { createJwksDocument, createKeyManager, type KeyManager } from '../src/keys/key-manager.js';
import { loadConfig } from '../src/config.js';
import type { Storage } from '../src/storage/storage.js';
import { createCapturedLogger, createTestStorage, openTestStorage } from './helpers.js';

const secret = 'key-test-secret-key-test-secret-0123456789';
const clock = createFixedClock(Date.UTC(2026, 0, 1));

function keyManager(storage: Storage, kekSecret = secret): KeyManager {
  return createKeyManager({
    keys: storage.keys,
    kek: createKeyEncryptionKey(kekSecret),
    clock,
    audit: createAuditTrail(createCapturedLogger().logger),
    modulusLength: 2048,
    durations: loadConfig({}).keyDurations,
  });
}

/** Signs a token with the manager's key and verifies it with the stored public key of `kid`. */
async function signsWithStoredKey(manager: KeyManager, storage: Storage): Promise<string> {
  const { kid, privateKey } = manager.signingKey();
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
  const record = (await storage.keys.list()).find((key) => key.kid === kid);
  if (record === undefined) throw new Error(`kid ${kid} not in the store`);
  await compactVerify(token, await importJWK({ ...record.publicJwk, alg: 'RS256' }, 'RS256'));
  return kid;
}

describe('key-encryption key', () => {
  const plaintext = randomBytes(64);

  test('decrypts what it encrypted, with a fresh IV each time', () => {
    const kek = createKeyEncryptionKey(secret);
    const sealed = kek.encrypt(plaintext, 'kid-1');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(kek.encrypt(plaintext, 'kid-1')).not.toBe(sealed);
    expect(kek.decrypt(sealed, 'kid-1')).toEqual(plaintext);
    // A second instance from the same secret derives the same key.
    expect(createKeyEncryptionKey(secret).decrypt(sealed, 'kid-1')).toEqual(plaintext);
  });

  test('a different secret cannot decrypt: KeyDecryptionError', () => {
    const sealed = createKeyEncryptionKey(secret).encrypt(plaintext, 'kid-1');
    expect(() => createKeyEncryptionKey(`${secret}-other`).decrypt(sealed, 'kid-1')).toThrow(
      KeyDecryptionError,
    );
  });

  test('a ciphertext moved to another kid fails (the kid is authenticated data)', () => {
    const kek = createKeyEncryptionKey(secret);
    const sealed = kek.encrypt(plaintext, 'kid-1');
    expect(() => kek.decrypt(sealed, 'kid-2')).toThrow(KeyDecryptionError);
  });

  test('a tampered or malformed ciphertext fails with KeyDecryptionError', () => {
    const kek = createKeyEncryptionKey(secret);
    const [v, iv, tag, body] = kek.encrypt(plaintext, 'kid-1').split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => kek.decrypt([v, iv, tag, flipped.toString('base64url')].join('.'), 'kid-1')).toThrow(
      KeyDecryptionError,
    );
    expect(() => kek.decrypt('v2.a.b.c', 'kid-1')).toThrow(KeyDecryptionError);
    expect(() => kek.decrypt('garbage', 'kid-1')).toThrow(KeyDecryptionError);
  });
});

describe('key manager', () => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()));
  });

  test('before load() nothing is ready and signing throws', async () => {
    const store = await createTestStorage();
    opened.push(store);
    const manager = keyManager(store.storage);
    expect(manager.ready()).toBe(false);
    expect(() => manager.signingKey()).toThrow();
    expect(() => manager.jwks()).toThrow();
  });

  test('the first load creates an active key and the next, pending one: kid is the RFC 7638 thumbprint, private part encrypted', async () => {
    const store = await createTestStorage();
    opened.push(store);
    const manager = keyManager(store.storage);
    await manager.load();

    const records = await store.storage.keys.list();
    expect(records.map((key) => key.state).sort()).toEqual(['active', 'pending']);
    const record = records.find((key) => key.state === 'active');
    expect(record).toMatchObject({
      state: 'active',
      alg: 'RS256',
      activatedAt: clock.now(),
      createdAt: clock.now(),
    });
    expect(record?.kid).toBe(await calculateJwkThumbprint(record?.publicJwk ?? {}, 'sha256'));
    expect(record?.privateKeyEncrypted).toMatch(/^v1\./);
    expect(record?.privateKeyEncrypted).not.toContain('PRIVATE KEY');
    expect(manager.ready()).toBe(true);
    expect(await signsWithStoredKey(manager, store.storage)).toBe(record?.kid);
    // The signing key's public half is the stored public key.
    const exported = createPublicKey(manager.signingKey().privateKey).export({ format: 'jwk' });
    expect({ n: exported.n, e: exported.e }).toEqual({ n: record?.publicJwk.n, e: record?.publicJwk.e });
  });

  test('a second manager on the same store with the same secret loads the same kid and creates no key', async () => {
    const store = await createTestStorage();
    opened.push(store);
    const first = keyManager(store.storage);
    await first.load();

    const replica = await openTestStorage(store.file);
    opened.push(replica);
    const second = keyManager(replica);
    await second.load();

    expect(second.signingKey().kid).toBe(first.signingKey().kid);
    expect(second.jwks().etag).toBe(first.jwks().etag);
    expect(await store.storage.keys.list()).toHaveLength(2);
  });

  test('with a wrong secret, load() rejects with KeyDecryptionError and the store still holds exactly one key', async () => {
    const store = await createTestStorage();
    opened.push(store);
    await keyManager(store.storage).load();
    const before = await store.storage.keys.list();

    const wrong = keyManager(store.storage, 'a-different-secret-a-different-secret-00');
    await expect(wrong.load()).rejects.toThrow(KeyDecryptionError);
    expect(wrong.ready()).toBe(false);
    expect(await store.storage.keys.list()).toEqual(before);
  });

  test('two managers loading concurrently on a fresh store end with exactly one active key, both signing with it', async () => {
    const store = await createTestStorage();
    opened.push(store);
    const replica = await openTestStorage(store.file);
    opened.push(replica);
    const a = keyManager(store.storage);
    const b = keyManager(replica);

    await Promise.all([a.load(), b.load()]);

    const stored = await store.storage.keys.list();
    const active = stored.filter((key) => key.state === 'active');
    expect(active).toHaveLength(1);
    expect(stored.filter((key) => key.state === 'pending')).toHaveLength(1);
    expect(a.signingKey().kid).toBe(active[0]?.kid);
    expect(b.signingKey().kid).toBe(active[0]?.kid);
    expect(await signsWithStoredKey(a, store.storage)).toBe(active[0]?.kid);
    expect(await signsWithStoredKey(b, store.storage)).toBe(active[0]?.kid);
  });
});

describe('JWKS document', () => {
  const record = (kid: string, state: 'pending' | 'active' | 'retiring' | 'retired' | 'compromised') => ({
    kid,
    state,
    alg: 'RS256' as const,
    publicJwk: { kty: 'RSA' as const, n: `n-${kid}`, e: 'AQAB' },
    privateKeyEncrypted: 'v1.secret',
    createdAt: 0,
    activatedAt: null,
    retiringAt: null,
    retiredAt: null,
    compromisedAt: null,
  });

  test('publishes pending, active and retiring keys only, each with only public members', () => {
    const { body } = createJwksDocument([
      record('p', 'pending'),
      record('a', 'active'),
      record('r', 'retiring'),
      record('x', 'retired'),
      record('c', 'compromised'),
    ]);
    const { keys } = JSON.parse(body.toString()) as { keys: Record<string, string>[] };
    expect(keys.map((key) => key.kid)).toEqual(['p', 'a', 'r']);
    for (const key of keys) expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(body.toString()).not.toContain('v1.secret');
  });

  test('the ETag is strong, and changes with the key set', () => {
    const one = createJwksDocument([record('a', 'active')]);
    const two = createJwksDocument([record('a', 'active'), record('p', 'pending')]);
    expect(one.etag).toMatch(/^"[\w-]+"$/);
    expect(createJwksDocument([record('a', 'active')]).etag).toBe(one.etag);
    expect(two.etag).not.toBe(one.etag);
  });
});
