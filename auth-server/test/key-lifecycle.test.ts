import { createAuditTrail } from '../src/audit.js';
import { afterEach, describe, expect, test } from '@jest/globals';
import { createFixedClock, ConfigError } from '@tessera/shared';
import { loadConfig } from '../src/config.js';
import { createKeyEncryptionKey } from '../src/keys/encryption.js';
import {
  createKeyManager,
  KeyIntegrityError,
  KeyLifecycleError,
  type KeyManager,
} from '../src/keys/key-manager.js';
import {
  dueTransitions,
  nextChange,
  planRotation,
  toJwksCacheControl,
  type KeyDurations,
} from '../src/keys/lifecycle.js';
import type { KeyState, SigningKeyRecord, Storage } from '../src/storage/storage.js';
import { createCapturedLogger, createTestStorage, openTestStorage } from './helpers.js';

const secret = 'lifecycle-secret-lifecycle-secret-0123456789';
const second = 1000;
const start = Date.UTC(2026, 0, 1);

/** Small but consistent durations: prepublish 10 + 2×60 = 130 s, retiring 10 + 300 + 30 + 60 = 400 s. */
const durations: KeyDurations = loadConfig({
  KEY_ROTATION_INTERVAL: '1h',
  KEY_RELOAD_INTERVAL: '10s',
  JWKS_MAX_AGE: '60s',
  ACCESS_TOKEN_TTL: '5m',
  CLOCK_TOLERANCE: '30s',
}).keyDurations;

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

function record(kid: string, state: KeyState, times: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid,
    state,
    alg: 'RS256',
    publicJwk: { kty: 'RSA', n: `n-${kid}`, e: 'AQAB' },
    privateKeyEncrypted: 'v1.x',
    createdAt: start,
    activatedAt: state === 'active' ? start : null,
    retiringAt: null,
    retiredAt: null,
    compromisedAt: null,
    ...times,
  };
}

describe('derived durations and refused configurations', () => {
  test('the defaults: pending 630 s before signing, retiring for 1260 s, the same stale-if-error', () => {
    const defaults = loadConfig({}).keyDurations;
    expect(defaults).toEqual({
      rotationIntervalSeconds: 30 * 86400,
      reloadIntervalSeconds: 30,
      jwksMaxAgeSeconds: 300,
      accessTokenTtlSeconds: 900,
      clockToleranceSeconds: 30,
      // reload interval + 2 × JWKS max-age
      prepublishSeconds: 630,
      // reload interval + access-token TTL + clock tolerance + JWKS max-age
      retiringSeconds: 1260,
      staleIfErrorSeconds: 1260,
    });
    expect(toJwksCacheControl(defaults)).toBe('public, max-age=300, stale-if-error=1260');
  });

  test('the durations follow the configuration', () => {
    expect(durations).toMatchObject({
      prepublishSeconds: 130,
      retiringSeconds: 400,
      staleIfErrorSeconds: 400,
    });
  });

  test('a rotation interval shorter than the prepublication is refused, naming the variable and the minimum', () => {
    const { problems } = configError({ KEY_ROTATION_INTERVAL: '5m' });
    expect(problems).toEqual([expect.stringMatching(/^KEY_ROTATION_INTERVAL: must be at least 630s/)]);
  });

  test('a reload interval longer than the JWKS max-age is refused', () => {
    const { problems } = configError({ KEY_RELOAD_INTERVAL: '2m', JWKS_MAX_AGE: '1m' });
    expect(problems).toEqual([expect.stringMatching(/^KEY_RELOAD_INTERVAL: /)]);
  });

  test.each([
    ['KEY_RELOAD_INTERVAL', '10m'],
    ['CLOCK_TOLERANCE', '10m'],
    ['JWKS_MAX_AGE', '2d'],
    ['KEY_ROTATION_INTERVAL', 'monthly'],
  ])('%s=%s is refused', (name, value) => {
    expect(configError({ [name]: value }).problems).toEqual([
      expect.stringMatching(new RegExp(`^${name}: `)),
    ]);
  });

  test('production refuses a JWKS max-age under 30 s; development allows seconds (the rotation drill)', () => {
    const production = {
      NODE_ENV: 'production',
      KEY_ENCRYPTION_SECRET: 'Vx3MYlyBwzCTRdTkRVudNrXq6NDcMfaBxDL8SAKSjgs=',
      ISSUER: 'https://auth.example.com',
      DATABASE_URL: 'postgres://tessera:pw@postgres/tessera',
    };
    expect(configError({ ...production, JWKS_MAX_AGE: '10s', KEY_RELOAD_INTERVAL: '5s' }).problems).toEqual([
      expect.stringMatching(/^JWKS_MAX_AGE: /),
    ]);
    expect(
      loadConfig({ KEY_ROTATION_INTERVAL: '4s', KEY_RELOAD_INTERVAL: '1s', JWKS_MAX_AGE: '1s' }).keyDurations,
    ).toMatchObject({ prepublishSeconds: 3, rotationIntervalSeconds: 4 });
  });
});

describe('dueTransitions (pure)', () => {
  test('an empty store needs an active key and a pending one', () => {
    expect(dueTransitions([], start, durations)).toEqual([
      { kind: 'create-active' },
      { kind: 'create-pending' },
    ]);
  });

  test('an active key without a pending successor gets one', () => {
    expect(dueTransitions([record('a', 'active')], start, durations)).toEqual([{ kind: 'create-pending' }]);
  });

  test('the pending key takes over when the rotation interval has passed, not a millisecond before', () => {
    const keys = [record('a', 'active'), record('p', 'pending')];
    const due = start + 3600 * second;
    expect(dueTransitions(keys, due - 1, durations)).toEqual([]);
    expect(dueTransitions(keys, due, durations)).toEqual([{ kind: 'rotate', demote: 'a', promote: 'p' }]);
  });

  test('a pending key published for less than the prepublication waits, even when the interval is over', () => {
    const publishedAt = start + 3590 * second;
    const keys = [record('a', 'active'), record('p', 'pending', { createdAt: publishedAt })];
    expect(dueTransitions(keys, start + 3600 * second, durations)).toEqual([]);
    expect(dueTransitions(keys, publishedAt + 130 * second - 1, durations)).toEqual([]);
    expect(dueTransitions(keys, publishedAt + 130 * second, durations)).toEqual([
      { kind: 'rotate', demote: 'a', promote: 'p' },
    ]);
  });

  test('a retiring key is retired once the retiring duration has passed since it stopped signing', () => {
    const keys = [
      record('r', 'retiring', { retiringAt: start }),
      record('a', 'active'),
      record('p', 'pending'),
    ];
    expect(dueTransitions(keys, start + 400 * second - 1, durations)).toEqual([]);
    expect(dueTransitions(keys, start + 400 * second, durations)).toEqual([{ kind: 'retire', kid: 'r' }]);
  });

  test('retired and compromised keys need nothing', () => {
    const keys = [
      record('x', 'retired'),
      record('c', 'compromised'),
      record('a', 'active'),
      record('p', 'pending'),
    ];
    expect(dueTransitions(keys, start + 1000 * second, durations)).toEqual([]);
  });

  test('nextChange says when each key changes state next', () => {
    const keys = [
      record('r', 'retiring', { retiringAt: start }),
      record('a', 'active'),
      record('p', 'pending'),
      record('x', 'retired'),
    ];
    const [retiring, active, pending, retired] = keys as [
      SigningKeyRecord,
      SigningKeyRecord,
      SigningKeyRecord,
      SigningKeyRecord,
    ];
    expect(nextChange(retiring, keys, durations)).toEqual({ state: 'retired', at: start + 400 * second });
    expect(nextChange(active, keys, durations)).toEqual({ state: 'retiring', at: start + 3600 * second });
    expect(nextChange(pending, keys, durations)).toEqual({ state: 'active', at: start + 3600 * second });
    expect(nextChange(retired, keys, durations)).toBeUndefined();
  });

  test('planRotation refuses a pending key not yet published long enough, unless forced', () => {
    const keys = [record('a', 'active'), record('p', 'pending', { createdAt: start })];
    const early = planRotation(keys, start + 10 * second, durations, false);
    expect(early).toEqual({ ok: false, reason: expect.stringContaining('--force') });
    expect(planRotation(keys, start + 10 * second, durations, true)).toEqual({
      ok: true,
      demote: 'a',
      promote: 'p',
    });
    expect(planRotation(keys, start + 130 * second, durations, false)).toEqual({
      ok: true,
      demote: 'a',
      promote: 'p',
    });
    expect(planRotation([record('a', 'active')], start, durations, false).ok).toBe(false);
    expect(planRotation([record('a', 'active')], start, durations, true)).toEqual({
      ok: true,
      demote: 'a',
      promote: undefined,
    });
  });
});

describe('key manager through the lifecycle (fixed clock, SQLite)', () => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  async function setUp() {
    const store = await createTestStorage();
    opened.push(store);
    const clock = createFixedClock(start);
    const manager = (storage: Storage = store.storage): KeyManager =>
      createKeyManager({
        keys: storage.keys,
        kek: createKeyEncryptionKey(secret),
        clock,
        audit: createAuditTrail(createCapturedLogger().logger),
        modulusLength: 2048,
        durations,
      });
    const states = async () =>
      Object.fromEntries((await store.storage.keys.list()).map((key) => [key.kid, key.state]));
    const published = (keys: KeyManager) =>
      (JSON.parse(keys.jwks().body.toString()) as { keys: { kid: string }[] }).keys
        .map((key) => key.kid)
        .sort();
    return { store, clock, manager, states, published };
  }

  test('pending → active → retiring → retired on schedule; the JWKS follows and the private part is destroyed', async () => {
    const { store, clock, manager, states, published } = await setUp();
    const keys = manager();
    await keys.load();
    const first = keys.signingKey().kid;
    const [pending] = (await store.storage.keys.list()).filter((key) => key.state === 'pending');
    const next = pending?.kid ?? '';
    expect(published(keys)).toEqual([first, next].sort());

    clock.advance(3600 * second - 1);
    await keys.load();
    expect(keys.signingKey().kid).toBe(first);

    clock.advance(1);
    await keys.load();
    expect(keys.signingKey().kid).toBe(next);
    const afterRotation = await store.storage.keys.list();
    const third = afterRotation.find((key) => key.state === 'pending')?.kid ?? '';
    expect(await states()).toEqual({ [first]: 'retiring', [next]: 'active', [third]: 'pending' });
    expect(afterRotation.find((key) => key.kid === first)).toMatchObject({ retiringAt: clock.now() });
    expect(afterRotation.find((key) => key.kid === next)).toMatchObject({ activatedAt: clock.now() });
    // The retiring key is still published: tokens it signed are still valid.
    expect(published(keys)).toEqual([first, next, third].sort());

    clock.advance(400 * second);
    await keys.load();
    const retired = (await store.storage.keys.list()).find((key) => key.kid === first);
    expect(retired).toMatchObject({ state: 'retired', retiredAt: clock.now(), privateKeyEncrypted: null });
    expect(published(keys)).toEqual([next, third].sort());
  });

  test('keys rotate promotes a ready pending key; refuses an unready one unless forced', async () => {
    const { store, clock, manager, states } = await setUp();
    const keys = manager();
    await keys.load();
    const first = keys.signingKey().kid;

    await expect(keys.rotate({ force: false })).rejects.toThrow(KeyLifecycleError);
    expect(Object.values(await states()).sort()).toEqual(['active', 'pending']);

    clock.advance(130 * second);
    const { activated, retiring } = await keys.rotate({ force: false });
    expect(retiring).toBe(first);
    expect((await states())[activated]).toBe('active');

    // The new pending key was just made: only --force promotes it now.
    await expect(keys.rotate({ force: false })).rejects.toThrow(/use --force/);
    const forced = await keys.rotate({ force: true });
    await keys.load();
    expect(keys.signingKey().kid).toBe(forced.activated);
    const stored = await store.storage.keys.list();
    expect(stored.filter((key) => key.state === 'active')).toHaveLength(1);
    expect(stored.filter((key) => key.state === 'pending')).toHaveLength(1);
    expect(
      stored
        .filter((key) => key.state === 'retiring')
        .map((key) => key.kid)
        .sort(),
    ).toEqual([first, activated].sort());
  });

  test('compromising the active key unpublishes it at once and the already-published pending key signs; a fresh key becomes pending; its private part is gone', async () => {
    const { store, manager, published } = await setUp();
    const keys = manager();
    await keys.load();
    const leaked = keys.signingKey().kid;
    const pending = (await store.storage.keys.list()).find((key) => key.state === 'pending')?.kid;
    expect(pending).toBeDefined();
    const etagBefore = keys.jwks().etag;

    const outcome = await keys.compromise(leaked);
    await keys.load();

    // Resource servers have held the pending key since it was published: its tokens verify at once.
    expect(outcome).toEqual({ previousState: 'active', activated: pending });
    expect(keys.signingKey().kid).toBe(pending);
    const stored = await store.storage.keys.list();
    const next = stored.find((key) => key.state === 'pending')?.kid;
    expect(next).toBeDefined();
    expect(next).not.toBe(pending);
    expect(published(keys)).not.toContain(leaked);
    expect(published(keys)).toEqual([pending, next].sort());
    expect(keys.jwks().etag).not.toBe(etagBefore);
    expect(stored.find((key) => key.kid === leaked)).toMatchObject({
      state: 'compromised',
      privateKeyEncrypted: null,
    });
  });

  test('compromising the active key when no key is pending: a fresh key signs at once', async () => {
    const { store, manager, published } = await setUp();
    const keys = manager();
    await keys.load();
    const leaked = keys.signingKey().kid;
    const pending = (await store.storage.keys.list()).find((key) => key.state === 'pending')!.kid;
    await keys.compromise(pending);

    const outcome = await keys.compromise(leaked);
    await keys.load();

    expect(outcome.previousState).toBe('active');
    const activated = (outcome as { activated: string }).activated;
    expect([leaked, pending]).not.toContain(activated);
    expect(keys.signingKey().kid).toBe(activated);
    expect(published(keys)).toContain(activated);
  });

  test('a stored key whose public key does not hash to its kid is refused at load (KeyIntegrityError) and nothing is loaded', async () => {
    const { store, clock } = await setUp();
    const keys = createKeyManager({
      keys: store.storage.keys,
      kek: createKeyEncryptionKey(secret),
      clock,
      audit: createAuditTrail(createCapturedLogger().logger),
      modulusLength: 2048,
      durations,
    });
    await keys.load();
    const signing = keys.signingKey().kid;
    const records = await store.storage.keys.list();
    const pending = records.find((key) => key.state === 'pending')!;
    // A store whose active row carries another key's public half (the kid and ciphertext untouched).
    const tampered = {
      ...store.storage.keys,
      list: async () =>
        (await store.storage.keys.list()).map((key) =>
          key.state === 'active' ? { ...key, publicJwk: pending.publicJwk } : key,
        ),
    };
    const fooled = createKeyManager({
      keys: tampered,
      kek: createKeyEncryptionKey(secret),
      clock,
      audit: createAuditTrail(createCapturedLogger().logger),
      modulusLength: 2048,
      durations,
    });

    await expect(fooled.load()).rejects.toThrow(KeyIntegrityError);
    await expect(fooled.load()).rejects.toThrow(
      `signing key ${signing}: its public key does not match its kid`,
    );
    expect(fooled.ready()).toBe(false);
  });

  test('every plaintext private-key buffer is zeroed after use (generation, load, compromise, re-encryption)', async () => {
    const { store, clock } = await setUp();
    const real = createKeyEncryptionKey(secret);
    const plaintexts: Buffer[] = [];
    const watching = {
      encrypt(plaintext: Buffer, kid: string) {
        plaintexts.push(plaintext);
        return real.encrypt(plaintext, kid);
      },
      decrypt(sealed: string, kid: string) {
        const plaintext = real.decrypt(sealed, kid);
        plaintexts.push(plaintext);
        return plaintext;
      },
    };
    const keys = createKeyManager({
      keys: store.storage.keys,
      kek: watching,
      clock,
      audit: createAuditTrail(createCapturedLogger().logger),
      modulusLength: 2048,
      durations,
    });
    await keys.load();
    await keys.compromise(keys.signingKey().kid);
    await keys.load();
    await keys.reencryptFrom(secret);

    expect(plaintexts.length).toBeGreaterThanOrEqual(5);
    expect(plaintexts.filter((buffer) => buffer.some((byte) => byte !== 0))).toEqual([]);
    // And the manager still signs: the KeyObject was made before the bytes were wiped.
    expect(keys.signingKey().privateKey.asymmetricKeyType).toBe('rsa');
  });

  test('compromising the pending key unpublishes it and the next load prepares another', async () => {
    const { store, manager, published } = await setUp();
    const keys = manager();
    await keys.load();
    const signing = keys.signingKey().kid;
    const pending = (await store.storage.keys.list()).find((key) => key.state === 'pending')?.kid ?? '';

    expect(await keys.compromise(pending)).toEqual({ previousState: 'pending' });
    await keys.load();

    expect(keys.signingKey().kid).toBe(signing);
    const replacement = (await store.storage.keys.list()).find((key) => key.state === 'pending')?.kid;
    expect(replacement).toBeDefined();
    expect(published(keys)).toEqual([signing, replacement].sort());
  });

  test('compromising an unknown or already unpublished kid is refused and changes nothing', async () => {
    const { manager, states } = await setUp();
    const keys = manager();
    await keys.load();
    const before = await states();
    await expect(keys.compromise('no-such-kid')).rejects.toThrow(/no published key has kid "no-such-kid"/);
    expect(await states()).toEqual(before);
  });

  test('two replicas (two handles on one SQLite file) due to rotate at once: one rotation, one active key', async () => {
    const { store, clock, manager, states } = await setUp();
    const replica = await openTestStorage(store.file);
    opened.push({ close: () => replica.close() });
    const a = manager();
    const b = manager(replica);
    await a.load();
    await b.load();
    const before = await states();

    clock.advance(3600 * second);
    await Promise.all([a.load(), b.load()]);
    await Promise.all([a.load(), b.load()]); // a replica that lost the race catches up on its next pass

    const after = await store.storage.keys.list();
    expect(after.filter((key) => key.state === 'active')).toHaveLength(1);
    expect(after.filter((key) => key.state === 'pending')).toHaveLength(1);
    expect(after.filter((key) => key.state === 'retiring')).toHaveLength(1);
    expect(after).toHaveLength(Object.keys(before).length + 1); // exactly one new key
    expect(a.signingKey().kid).toBe(b.signingKey().kid);
    expect(a.jwks().etag).toBe(b.jwks().etag);
  });

  test('a replica acting on an outdated view of the keys changes nothing (compare-and-set)', async () => {
    const { store, manager } = await setUp();
    const replica = await openTestStorage(store.file);
    opened.push({ close: () => replica.close() });
    const keys = manager();
    await keys.load();
    const seen = await store.storage.keys.list();
    const active = seen.find((key) => key.state === 'active')?.kid ?? '';
    const pending = seen.find((key) => key.state === 'pending')?.kid ?? '';
    const rotation = (kid: string) => ({
      now: start,
      demote: active,
      promote: pending,
      insert: [{ ...(seen[0] as SigningKeyRecord), kid, state: 'pending' as const, activatedAt: null }],
    });

    // Both decided on the same rotation from the same observation; the second must not apply.
    expect(await store.storage.keys.rotate(rotation('next-1'))).toBe(true);
    expect(await replica.keys.rotate(rotation('next-2'))).toBe(false);

    const after = await store.storage.keys.list();
    expect(after.map((key) => [key.kid, key.state])).toEqual(
      expect.arrayContaining([
        [active, 'retiring'],
        [pending, 'active'],
        ['next-1', 'pending'],
      ]),
    );
    expect(after.find((key) => key.kid === 'next-2')).toBeUndefined();
  });

  test('a wrong KEY_ENCRYPTION_SECRET stops load and rotate before anything is written', async () => {
    const { store, clock, states } = await setUp();
    const good = createKeyManager({
      keys: store.storage.keys,
      kek: createKeyEncryptionKey(secret),
      clock,
      audit: createAuditTrail(createCapturedLogger().logger),
      modulusLength: 2048,
      durations,
    });
    await good.load();
    const before = await states();
    const wrong = createKeyManager({
      keys: store.storage.keys,
      kek: createKeyEncryptionKey(`${secret}-wrong`),
      clock,
      audit: createAuditTrail(createCapturedLogger().logger),
      modulusLength: 2048,
      durations,
    });
    clock.advance(3600 * second); // a rotation is due: it must not happen under the wrong secret
    await expect(wrong.load()).rejects.toThrow(/cannot be decrypted/);
    await expect(wrong.rotate({ force: true })).rejects.toThrow(/cannot be decrypted/);
    expect(await states()).toEqual(before);
  });
});
