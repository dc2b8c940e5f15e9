import { randomUUID } from 'node:crypto';
import { AppError, type Clock } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import {
  StorageConflictError,
  type ConsentStore,
  type UserRecord,
  type UserStore,
} from '../storage/storage.js';
import { parseScopeList } from '../tokens/scope.js';
import { UserInputError } from '../errors.js';
import type { PasswordHasher } from './passwords.js';

/** Usernames: letters, digits and `._@+-`, compared after NFC normalisation. */
const usernamePattern = /^[\p{L}\p{N}._@+-]{1,64}$/u;
export const minPasswordLength = 8;
/** Argon2 takes any length, but an unbounded password is a cheap way to burn our CPU. */
export const maxPasswordLength = 1024;

export function normalizeUsername(username: string): string {
  return username.normalize('NFC');
}

export interface UserService {
  create(input: { username: string; password: string; scopes: string }): Promise<UserRecord>;
  disable(username: string): Promise<void>;
  /** Forgets the user's consent for a client (the next sign-in to it asks again); false if there was none. */
  revokeConsent(username: string, clientId: string): Promise<boolean>;
  /** The user when the password is right and the account enabled; undefined otherwise, in equal time. */
  authenticate(username: string, password: string): Promise<UserRecord | undefined>;
}

export function createUserService(deps: {
  users: UserStore;
  consents: ConsentStore;
  hasher: PasswordHasher;
  clock: Clock;
  audit: AuditTrail;
  /** Disabling a user revokes their sessions and tokens. */
  revokeUser(userId: string): Promise<void>;
}): UserService {
  const { users, consents, hasher, clock, audit } = deps;
  return {
    async create(input) {
      const username = normalizeUsername(input.username);
      if (!usernamePattern.test(username))
        throw new UserInputError('username must be 1-64 letters, digits or . _ @ + -');
      if (input.password.length < minPasswordLength || input.password.length > maxPasswordLength)
        throw new UserInputError(`password must be ${minPasswordLength} to ${maxPasswordLength} characters`);
      const scopes = parseScopeList(input.scopes);
      if (scopes === undefined) throw new UserInputError('scopes must be space-separated scope tokens');
      const user: UserRecord = {
        id: randomUUID(),
        username,
        passwordHash: await hasher.hash(input.password),
        scopes: [...scopes],
        disabled: false,
        createdAt: clock.now(),
      };
      await users.insert(user).catch((error: unknown) => {
        if (error instanceof StorageConflictError)
          throw new UserInputError(`user "${username}" already exists`);
        throw error;
      });
      audit.record('user.created', { user_id: user.id, username: user.username, scopes: user.scopes });
      return user;
    },
    async disable(username) {
      const user = await users.setDisabled(normalizeUsername(username), true);
      if (user === undefined) throw new UserInputError(`no user "${username}"`);
      await deps.revokeUser(user.id);
      audit.record('user.disabled', { username });
    },
    async revokeConsent(username, clientId) {
      const user = await users.findByUsername(normalizeUsername(username));
      if (user === undefined) throw new UserInputError(`no user "${username}"`);
      const revoked = await consents.delete(user.id, clientId);
      if (revoked) audit.record('consent.revoked', { user_id: user.id, client_id: clientId });
      return revoked;
    },
    async authenticate(username, password) {
      if (password.length > maxPasswordLength) {
        throw new AppError('invalid_request', `password longer than ${maxPasswordLength} characters`);
      }
      const user = await users.findByUsername(normalizeUsername(username));
      // Always run the hash, even for unknown users, so timing does not reveal which usernames exist.
      const ok = await hasher.verify(user?.passwordHash, password);
      return ok && user !== undefined && !user.disabled ? user : undefined;
    },
  };
}
