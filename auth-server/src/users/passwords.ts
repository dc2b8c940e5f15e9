import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';

/** OWASP's Argon2id minimum (m=19 MiB, t=2, p=1). Argon2id is the library's default algorithm. */
const argon2Options = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Verifies against a stored hash, or against a dummy hash when there is none, so both take the same time. */
  verify(storedHash: string | undefined, password: string): Promise<boolean>;
}

/**
 * Runs at most `limit` tasks at once, the rest in arrival order. Argon2 is memory-hard: more
 * hashes in flight than cores only time-slice 19 MiB working sets against each other (and
 * starve the event loop), so the extra ones wait in this queue instead of in the thread pool.
 */
function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, or free it.
      const next = waiting.shift();
      if (next === undefined) running -= 1;
      else next();
    }
  };
}

/**
 * Argon2id hashing on libuv's thread pool (never on the event loop), at most one hash per
 * core this process may run on (`os.availableParallelism()` honours CPU affinity). The dummy
 * hash is made once at start-up so an unknown username costs the same as a wrong password.
 */
export async function createPasswordHasher(options: { concurrency?: number } = {}): Promise<PasswordHasher> {
  const limited = createLimiter(options.concurrency ?? availableParallelism());
  const dummyHash = await hash(randomBytes(32).toString('base64url'), argon2Options);
  return {
    hash: (password) => limited(() => hash(password, argon2Options)),
    async verify(storedHash, password) {
      const matches = await limited(() => verify(storedHash ?? dummyHash, password)).catch(() => false);
      return storedHash !== undefined && matches;
    },
  };
}
