import { newKeyPairSync } from '../src/crypto/key-pair.js';
import { type KeyObject } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  createFixedClock,
  createVerifiedTokenCache,
  type JwksKeyProvider,
  type VerifiedTokenCache,
} from '../src/index.js';

const keyA = newKeyPairSync({ type: 'rsa', modulusLength: 2048 }).publicKey;
const keyB = newKeyPairSync({ type: 'rsa', modulusLength: 2048 }).publicKey;

/** A key provider whose key set the test edits directly. */
function keySet(initial: Record<string, KeyObject>) {
  const held = new Map(Object.entries(initial));
  const provider: JwksKeyProvider = {
    start: () => Promise.resolve(),
    getKey: (kid) => Promise.resolve(held.get(kid)),
    status: () => ({ loaded: true, usable: true, keyCount: held.size, ageSeconds: 0, lastError: undefined }),
    keySetChanged: () => undefined,
    stop: () => undefined,
  };
  return { provider, held };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Only the header is read by the cache; the signature was the strategy's business. */
function token(kid: string, jti: string): string {
  return `${b64url({ alg: 'RS256', typ: 'at+jwt', kid })}.${b64url({ jti })}.signature`;
}

function principal(exp: number, sub = 'user-1'): Express.User {
  return {
    id: sub,
    clientId: 'web-app',
    scope: ['notes:read'],
    actors: [],
    claims: {
      iss: 'i',
      sub,
      aud: 'a',
      exp,
      iat: exp - 900,
      jti: 'j',
      client_id: 'web-app',
      scope: 'notes:read',
    },
  };
}

/** Stores a token in the cache: it is admitted on its second sighting. */
async function store(cache: VerifiedTokenCache, raw: string, user: Express.User): Promise<void> {
  await cache.remember(raw, user);
  await cache.remember(raw, user);
}

describe('verified-token cache', () => {
  const clock = createFixedClock(Date.UTC(2026, 0, 1));
  const now = () => Math.floor(clock.now() / 1000);

  it('returns the remembered principal for the same token string only', async () => {
    const { provider } = keySet({ a: keyA });
    const cache = createVerifiedTokenCache({ keys: provider, clock });
    const user = principal(now() + 600);
    await store(cache, token('a', '1'), user);
    expect(await cache.lookup(token('a', '1'))).toBe(user);
    expect(await cache.lookup(token('a', '2'))).toBeUndefined();
  });

  it('drops an entry once the token reaches its exp, with no leeway', async () => {
    const { provider } = keySet({ a: keyA });
    const cache = createVerifiedTokenCache({ keys: provider, clock });
    const exp = now() + 60;
    await store(cache, token('a', '1'), principal(exp));
    clock.set(exp * 1000 - 1);
    expect(await cache.lookup(token('a', '1'))).toBeDefined();
    clock.set(exp * 1000);
    expect(await cache.lookup(token('a', '1'))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops an entry whose kid left the key set, and one whose kid now names another key', async () => {
    const { provider, held } = keySet({ a: keyA, b: keyB });
    const cache = createVerifiedTokenCache({ keys: provider, clock });
    await store(cache, token('a', '1'), principal(now() + 600));
    await store(cache, token('b', '2'), principal(now() + 600));

    held.delete('a');
    expect(await cache.lookup(token('a', '1'))).toBeUndefined();
    held.set('b', keyA);
    expect(await cache.lookup(token('b', '2'))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('does not remember a token whose key is unknown', async () => {
    const { provider } = keySet({ a: keyA });
    const cache = createVerifiedTokenCache({ keys: provider, clock });
    await store(cache, token('gone', '1'), principal(now() + 600));
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the oldest first', async () => {
    const { provider } = keySet({ a: keyA });
    const cache = createVerifiedTokenCache({ keys: provider, clock, maxEntries: 2 });
    for (const jti of ['1', '2', '3']) await store(cache, token('a', jti), principal(now() + 600));
    expect(cache.size).toBe(2);
    expect(await cache.lookup(token('a', '1'))).toBeUndefined();
    expect(await cache.lookup(token('a', '3'))).toBeDefined();
  });

  it('hands out a frozen principal, since every request with the token shares it', async () => {
    const { provider } = keySet({ a: keyA });
    const cache = createVerifiedTokenCache({ keys: provider, clock });
    await store(cache, token('a', '1'), principal(now() + 600));
    const user = await cache.lookup(token('a', '1'));
    expect(Object.isFrozen(user)).toBe(true);
    expect(Object.isFrozen(user?.scope)).toBe(true);
    expect(Object.isFrozen(user?.claims)).toBe(true);
  });

  it('stores a token on its second sighting only, and forgets sightings after maxEntries more', async () => {
    const { provider } = keySet({ a: keyA });
    const cache = createVerifiedTokenCache({ keys: provider, clock, maxEntries: 3 });
    const user = principal(now() + 600);
    await cache.remember(token('a', 'once'), user);
    expect(cache.size).toBe(0);
    expect(await cache.lookup(token('a', 'once'))).toBeUndefined();
    await cache.remember(token('a', 'once'), user);
    expect(await cache.lookup(token('a', 'once'))).toBe(user);

    // A sighting long ago (more than maxEntries sightings since) no longer counts.
    await cache.remember(token('a', 'old'), user);
    for (const jti of ['x', 'y', 'z']) await cache.remember(token('a', jti), user);
    await cache.remember(token('a', 'old'), user);
    expect(await cache.lookup(token('a', 'old'))).toBeUndefined();
  });

  it('keeps every claim as signed while entries share their repeated values', async () => {
    const { provider } = keySet({ a: keyA });
    const cache = createVerifiedTokenCache({ keys: provider, clock });
    const first = principal(now() + 600, 'user-1');
    const second = principal(now() + 600, 'user-2');
    const asSigned = structuredClone(first);
    await store(cache, token('a', '1'), first);
    await store(cache, token('a', '2'), second);
    const hit = await cache.lookup(token('a', '1'));
    expect(hit).toEqual(asSigned);
    expect(hit?.scope).toBe((await cache.lookup(token('a', '2')))?.scope);
  });

  it('refuses a maxEntries that is not a positive integer', () => {
    const { provider } = keySet({});
    expect(() => createVerifiedTokenCache({ keys: provider, maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
