import { createHmac, hkdfSync } from 'node:crypto';
import { AppError, type Clock } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import type { LoginFailures, LoginThrottleStore } from '../storage/storage.js';
import { normalizeUsername } from '../users/users.js';

/** When to lock a username that keeps failing, and for how long. */
export interface LoginLockPolicy {
  /** Failures (in a row, within the window) before the first lock. */
  threshold: number;
  /** The first lock; each further failure doubles it, */
  baseSeconds: number;
  /** up to this. No lock ever lasts longer: the account unlocks by itself. */
  maxSeconds: number;
  /** Failures older than this (since the last one) are forgotten. */
  windowSeconds: number;
}

/** One password attempt that the throttle let through; it counts as failed unless it succeeds. */
export interface LoginAttempt {
  /** The password was right: the username's failures are forgotten. */
  succeeded(): Promise<void>;
  /** The password was wrong (or the user unknown or disabled): logs when this locks the username. */
  failed(): void;
}

/**
 * Brute-force protection per username (RFC 6749 §4.3.2, RFC 9700 §2.4): after `threshold`
 * failures in a row, the username is locked; every further failure doubles the lock, up to
 * `maxSeconds`. Locks expire by themselves (an attacker can keep a username throttled only by
 * keeping up the attack, never lock it for good), and an operator lifts one with
 * `users unlock`. Known and unknown usernames are counted and answered identically, so the
 * throttle tells nothing about which exist.
 */
export interface LoginThrottle {
  /** Throws 429 `too_many_requests` with `Retry-After` while the username is locked. */
  begin(username: string): Promise<LoginAttempt>;
  /** Lifts a lock and forgets the failures; false if there were none. */
  unlock(username: string): Promise<boolean>;
  /** Deletes records whose failures are already forgotten; returns how many. */
  prune(): Promise<number>;
  /**
   * The store key for a username, also the `username_digest` of `login.locked`: HMAC-SHA-256
   * under a key derived from KEY_ENCRYPTION_SECRET. Fixed-size, so a 100-character junk
   * username costs the same row as `alice`; keyed, so neither the table nor the log holds a
   * fast, unsalted hash of what was typed (it may be a password typed into the wrong box).
   */
  keyOf(username: string): string;
}

export function createLoginThrottle(deps: {
  store: LoginThrottleStore;
  /** The key-encryption secret; a separate key is derived from it for the username digests. */
  secret: string;
  clock: Clock;
  audit: AuditTrail;
  policy: LoginLockPolicy;
}): LoginThrottle {
  const { store, clock, audit, policy } = deps;
  const digestKey = Buffer.from(hkdfSync('sha256', deps.secret, 'tessera', 'login-throttle/v1', 32));
  const keyOf = (username: string) =>
    createHmac('sha256', digestKey).update(normalizeUsername(username), 'utf8').digest('base64url');
  const windowMs = policy.windowSeconds * 1000;

  /** The lock that follows `failures` failures in a row (0 below the threshold). */
  const lockSeconds = (failures: number): number =>
    failures < policy.threshold
      ? 0
      : Math.min(policy.baseSeconds * 2 ** (failures - policy.threshold), policy.maxSeconds);

  /** Whole seconds until the lock set by `record` ends; 0 if none is in force. */
  function secondsLocked(record: LoginFailures, now: number): number {
    const lockedUntil = record.lastFailureAt + lockSeconds(record.failures) * 1000;
    return lockedUntil > now ? Math.ceil((lockedUntil - now) / 1000) : 0;
  }

  const locked = (retryAfterSeconds: number) =>
    new AppError('too_many_requests', 'too many failed attempts; try again later', {
      headers: { 'Retry-After': String(Math.max(1, retryAfterSeconds)) },
    });

  return {
    async begin(username) {
      const key = keyOf(username);
      const now = clock.now();
      const forgetBefore = now - windowMs;
      const found = await store.find(key);
      const previous = found === undefined || found.lastFailureAt < forgetBefore ? 0 : found.failures;
      if (found !== undefined && previous > 0) {
        const wait = secondsLocked(found, now);
        if (wait > 0) throw locked(wait);
      }
      // Counted as a failure before the password is checked, so concurrent attempts (here or on
      // other replicas) cannot all slip through on one reading; a success clears it again.
      const failures = await store.addFailure(key, now, forgetBefore);
      // Past the threshold, only the first attempt after a lock expires may go on; a concurrent
      // one that counted in between meets the lock that attempt now holds.
      if (failures > policy.threshold && failures !== previous + 1) throw locked(lockSeconds(failures));
      return {
        async succeeded() {
          await store.clear(key);
        },
        failed() {
          const seconds = lockSeconds(failures);
          // Never the username itself: it may be a password typed into the wrong box. The keyed
          // digest still tells one username locked again and again from many; the lock is lifted
          // with `users unlock --username`, which takes the username.
          if (seconds > 0)
            audit.record('login.locked', { username_digest: key, failures, lock_seconds: seconds }, 'warn');
        },
      };
    },
    async unlock(username) {
      const unlocked = await store.clear(keyOf(username));
      if (unlocked) audit.record('user.unlocked', { username });
      return unlocked;
    },
    prune: () => store.prune(clock.now() - windowMs),
    keyOf,
  };
}
