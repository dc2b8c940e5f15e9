import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { AppError, createFixedClock } from '@tessera/shared';
import type { Storage } from '../src/storage/storage.js';
import { createPasswordHasher, type PasswordHasher } from '../src/users/passwords.js';
import { UserInputError } from '../src/errors.js';
import { createUserService, type UserService } from '../src/users/users.js';
import { createTestStorage } from './helpers.js';

/** The real Argon2 hasher, counting calls and recording which stored hash each verify used. */
function countingHasher(inner: PasswordHasher) {
  const calls = { hash: 0, verify: [] as (string | undefined)[] };
  const hasher: PasswordHasher = {
    hash(password) {
      calls.hash += 1;
      return inner.hash(password);
    },
    verify(storedHash, password) {
      calls.verify.push(storedHash);
      return inner.verify(storedHash, password);
    },
  };
  return { hasher, calls };
}

let store: Awaited<ReturnType<typeof createTestStorage>>;
let storage: Storage;
let counting: ReturnType<typeof countingHasher>;
let users: UserService;
/** What the user service recorded in the audit trail. */
const audited: Record<string, unknown>[] = [];

beforeAll(async () => {
  store = await createTestStorage();
  storage = store.storage;
  counting = countingHasher(await createPasswordHasher());
  users = createUserService({
    users: storage.users,
    hasher: counting.hasher,
    clock: createFixedClock(),
    revokeUser: () => Promise.resolve(),
    consents: storage.consents,
    audit: { record: (event, fields) => audited.push({ event, ...fields }) },
  });
  await users.create({ username: 'alice', password: 'alice-password', scopes: 'notes:read notes:write' });
  await users.create({ username: 'mallory', password: 'mallory-password', scopes: '' });
  await users.disable('mallory');
});

afterAll(async () => {
  await store.close();
});

beforeEach(() => {
  counting.calls.hash = 0;
  counting.calls.verify = [];
});

describe('authenticate', () => {
  test('with the right password, returns the user after one verify against its stored hash', async () => {
    const user = await users.authenticate('alice', 'alice-password');
    const stored = await storage.users.findByUsername('alice');
    expect(user?.id).toBe(stored?.id);
    expect(counting.calls.verify).toEqual([stored?.passwordHash]);
  });

  test('with a wrong password, returns undefined after one verify', async () => {
    expect(await users.authenticate('alice', 'wrong-password')).toBeUndefined();
    expect(counting.calls.verify).toHaveLength(1);
  });

  test('for an unknown user, still runs exactly one verify (against the dummy hash) and returns undefined', async () => {
    expect(await users.authenticate('nobody', 'alice-password')).toBeUndefined();
    expect(counting.calls.verify).toEqual([undefined]);
  });

  test('for a disabled user with the right password, runs one verify and returns undefined', async () => {
    expect(await users.authenticate('mallory', 'mallory-password')).toBeUndefined();
    expect(counting.calls.verify).toHaveLength(1);
    expect(counting.calls.verify[0]).toMatch(/^\$argon2id\$/);
  });

  test('when the password is longer than 1024 characters, AppError invalid_request before any hashing', async () => {
    const attempt = users.authenticate('alice', 'x'.repeat(1025));
    await expect(attempt).rejects.toBeInstanceOf(AppError);
    await expect(attempt).rejects.toMatchObject({ code: 'invalid_request', status: 400 });
    expect(counting.calls.verify).toHaveLength(0);
  });

  test('a password of exactly 1024 characters is checked normally', async () => {
    expect(await users.authenticate('alice', 'x'.repeat(1024))).toBeUndefined();
    expect(counting.calls.verify).toHaveLength(1);
  });
});

describe('create', () => {
  test('stores an Argon2id hash, never the password, and the parsed scopes', async () => {
    const user = await users.create({ username: 'bob', password: 'bob-password', scopes: 'a  b a' });
    const stored = await storage.users.findByUsername('bob');
    expect(stored).toEqual(user);
    expect(stored?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(stored?.passwordHash).not.toContain('bob-password');
    expect(stored?.scopes).toEqual(['a', 'b']);
    expect(stored?.disabled).toBe(false);
  });

  test('normalises the username to NFC, so both spellings find the same user', async () => {
    const decomposed = 'rene\u0301';
    const user = await users.create({ username: decomposed, password: 'rene-password', scopes: '' });
    expect(user.username).toBe('ren\u00e9');
    expect((await storage.users.findByUsername('ren\u00e9'))?.id).toBe(user.id);
    expect((await users.authenticate(decomposed, 'rene-password'))?.id).toBe(user.id);
    expect((await users.authenticate('ren\u00e9', 'rene-password'))?.id).toBe(user.id);
  });

  test('a second user whose name differs only in Unicode normalisation is a duplicate', async () => {
    await expect(
      users.create({ username: 'ren\u00e9', password: 'other-password', scopes: '' }),
    ).rejects.toThrow(UserInputError);
  });

  test('a duplicate username is a UserInputError naming the user, and the first user is unchanged', async () => {
    const before = await storage.users.findByUsername('alice');
    const attempt = users.create({ username: 'alice', password: 'another-password', scopes: '' });
    await expect(attempt).rejects.toThrow(UserInputError);
    await expect(attempt).rejects.toThrow('already exists');
    expect(await storage.users.findByUsername('alice')).toEqual(before);
  });

  test.each([
    ['empty', ''],
    ['with a space', 'a b'],
    ['with a slash', 'a/b'],
    ['with a quote', 'a"b'],
    ['with a newline', 'a\nb'],
    ['65 characters', 'u'.repeat(65)],
  ])('an invalid username (%s) is a UserInputError, and nothing is stored', async (_what, username) => {
    await expect(users.create({ username, password: 'long-enough', scopes: '' })).rejects.toThrow(
      UserInputError,
    );
    expect(await storage.users.findByUsername(username)).toBeUndefined();
  });

  test('usernames may use letters in any script, digits and . _ @ + -', async () => {
    const user = await users.create({
      username: 'Émile.o_k+1@ex-ample',
      password: 'long-enough',
      scopes: '',
    });
    expect(user.username).toBe('Émile.o_k+1@ex-ample');
  });

  test.each([
    ['7 characters', 'x'.repeat(7)],
    ['1025 characters', 'x'.repeat(1025)],
  ])('a password of %s is a UserInputError, with no hashing', async (_what, password) => {
    await expect(users.create({ username: 'carol', password, scopes: '' })).rejects.toThrow(UserInputError);
    expect(counting.calls.hash).toBe(0);
    expect(await storage.users.findByUsername('carol')).toBeUndefined();
  });

  test.each([
    ['a quote', 'notes:read "x"'],
    ['a backslash', 'a\\b'],
  ])('scopes containing %s are a UserInputError', async (_what, scopes) => {
    await expect(users.create({ username: 'dave', password: 'long-enough', scopes })).rejects.toThrow(
      UserInputError,
    );
    expect(await storage.users.findByUsername('dave')).toBeUndefined();
  });
});

describe('disable', () => {
  test('marks the stored user disabled', async () => {
    await users.create({ username: 'erin', password: 'erin-password', scopes: '' });
    await users.disable('erin');
    expect((await storage.users.findByUsername('erin'))?.disabled).toBe(true);
  });

  test('an unknown username is a UserInputError', async () => {
    await expect(users.disable('nobody')).rejects.toThrow(UserInputError);
  });
});

describe('the audit trail', () => {
  test('creating and disabling a user, and revoking a consent, are recorded by the service whoever calls it', async () => {
    expect(audited.slice(0, 3)).toEqual([
      {
        event: 'user.created',
        user_id: expect.any(String),
        username: 'alice',
        scopes: ['notes:read', 'notes:write'],
      },
      { event: 'user.created', user_id: expect.any(String), username: 'mallory', scopes: [] },
      { event: 'user.disabled', username: 'mallory' },
    ]);
    const alice = await storage.users.findByUsername('alice');
    await storage.consents.upsert({
      userId: alice!.id,
      clientId: 'web',
      scope: ['notes:read'],
      grantedAt: 0,
    });
    audited.length = 0;
    expect(await users.revokeConsent('alice', 'web')).toBe(true);
    expect(await users.revokeConsent('alice', 'web')).toBe(false);
    expect(audited).toEqual([{ event: 'consent.revoked', user_id: alice!.id, client_id: 'web' }]);
    await expect(users.revokeConsent('nobody', 'web')).rejects.toThrow('no user "nobody"');
  });
});
