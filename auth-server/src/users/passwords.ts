import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/** Argon2id cost parameters (Argon2id is the library's default algorithm). */
export interface Argon2Cost {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's Argon2id minimum (m=19 MiB, t=2, p=1). */
export const owaspArgon2Cost: Argon2Cost = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Verifies against a stored hash, or against a dummy hash when there is none, so both take the same time. */
  verify(storedHash: string | undefined, password: string): Promise<boolean>;
}

/**
 * Argon2id hashing on libuv's thread pool (never on the event loop). The dummy hash is
 * made once at start-up so an unknown username costs the same as a wrong password.
 */
export async function createPasswordHasher(cost: Argon2Cost = owaspArgon2Cost): Promise<PasswordHasher> {
  const dummyHash = await hash(randomBytes(32).toString('base64url'), cost);
  return {
    hash: (password) => hash(password, cost),
    async verify(storedHash, password) {
      const matches = await verify(storedHash ?? dummyHash, password).catch(() => false);
      return storedHash !== undefined && matches;
    },
  };
}
