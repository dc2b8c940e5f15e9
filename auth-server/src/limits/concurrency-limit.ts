import { AppError } from '@tessera/shared';

/**
 * At most `concurrency` tasks run at once and at most `queue` wait; a task beyond both is
 * refused at once with 503 `temporarily_unavailable` and `Retry-After` (RFC 6749 §5.2, RFC 9110
 * §15.6.4) instead of queueing without limit.
 */
export interface ConcurrencyLimit {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly waiting: number;
}

export function createConcurrencyLimit(options: { concurrency: number; queue: number }): ConcurrencyLimit {
  const { concurrency, queue } = options;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || !Number.isSafeInteger(queue) || queue < 0)
    throw new TypeError('createConcurrencyLimit: concurrency must be ≥ 1 and queue ≥ 0 (integers)');
  let active = 0;
  const waiters: Array<() => void> = [];

  function release(): void {
    const next = waiters.shift();
    // Hand the slot straight to the next waiter: `active` stays the same.
    if (next === undefined) active -= 1;
    else next();
  }

  return {
    async run(task) {
      if (active < concurrency) active += 1;
      else if (waiters.length < queue) await new Promise<void>((resolve) => waiters.push(resolve));
      else
        throw new AppError('temporarily_unavailable', 'the server is busy; retry shortly', {
          headers: { 'Retry-After': '1' },
        });
      try {
        return await task();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return waiters.length;
    },
  };
}
