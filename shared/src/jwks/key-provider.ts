import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { createDocumentPoller, type FetchResult } from '../http/document-poller.js';

/** Options for {@link createJwksKeyProvider}. Durations are in seconds unless the name says otherwise. */
export interface JwksKeyProviderOptions {
  /** The auth server's JWKS endpoint (RFC 8414 `jwks_uri`). */
  jwksUri: string;
  /** Where warnings about failed refreshes go. Tokens never reach this logger. */
  logger: Logger;
  /** Drives key-set age and the unknown-kid cooldown; defaults to the system clock. */
  clock?: Clock;
  /** The fetch implementation; defaults to the global one. */
  fetch?: typeof fetch;
  /** Told the outcome of every JWKS request (for metrics). */
  onFetch?: (result: FetchResult) => void;
  /** Lower bound for the refresh interval taken from `Cache-Control: max-age` (default 30). */
  minRefreshSeconds?: number;
  /** Upper bound for the refresh interval taken from `Cache-Control: max-age` (default 3600). */
  maxRefreshSeconds?: number;
  /** At most one refetch for an unknown `kid` per this many seconds (default 30). */
  unknownKidCooldownSeconds?: number;
  /**
   * And at most this many unknown-`kid` refetches per `unknownKidBudgetWindowSeconds` (default 5
   * per 3600): a sustained flood of made-up kids costs the auth server a bounded number of requests.
   */
  unknownKidBudget?: number;
  unknownKidBudgetWindowSeconds?: number;
  /**
   * How long after the set's max-age has run out it may still be used when refreshes fail
   * (default 3600). The response's `stale-if-error` (RFC 5861 §4), when smaller, wins. Past it the
   * provider reports the set unusable and the strategy answers 503 instead of trusting old keys.
   */
  staleWindowSeconds?: number;
  /** Abort a JWKS request (including its body) after this long (default 5000 ms). */
  fetchTimeoutMs?: number;
}

/** What {@link JwksKeyProvider.status} reports; for readiness probes and diagnostics. */
export interface JwksKeyProviderStatus {
  /** True once a key set has been loaded at least once (it is never unloaded). */
  loaded: boolean;
  /** True while the held set may be used: loaded, and not past its max-age plus the stale window. */
  usable: boolean;
  /** Number of usable keys held. */
  keyCount: number;
  /** Seconds since the held set was last confirmed by the server (200 or 304); undefined before the first load. */
  ageSeconds: number | undefined;
  /** The last refresh failure, cleared by the next success. */
  lastError: string | undefined;
}

/** An in-memory, self-refreshing copy of an auth server's JWKS (RFC 7517 §5). */
export interface JwksKeyProvider {
  /**
   * Performs the first fetch and starts background refreshing. Resolves after the first
   * attempt whether it succeeded or not; never rejects. Failures are retried with backoff.
   */
  start(): Promise<void>;
  /**
   * The public key for `kid`, or `undefined`. An unknown `kid` causes at most one refetch
   * (shared by concurrent callers, not more than once per cooldown, and within a budget per
   * window) — the way a resource server learns about a rotated-in key without letting token
   * senders drive its traffic. It does not look at the stale window: check `status().usable`.
   */
  getKey(kid: string): Promise<KeyObject | undefined>;
  /**
   * The auth server says its key set is now at `version` (its JWKS ETag, announced in the
   * revocation feed). If that is not the set held, it is refetched at once, outside the
   * unknown-kid cooldown and budget, once per announced version: after a key compromise the
   * replacement key verifies from the next feed poll on, however many junk kids were sent.
   */
  keySetChanged(version: string): void;
  /** The current state of the held key set. */
  status(): JwksKeyProviderStatus;
  /** Cancels background refreshes; an in-flight request completes but schedules nothing. */
  stop(): void;
}

interface HeldKey {
  /** `n.e`: lets a refresh that returns the same key reuse the parsed KeyObject. */
  material: string;
  key: KeyObject;
}

/** Without `Cache-Control: max-age` the set is refreshed this often (then clamped). */
const defaultRefreshSeconds = 300;
/** The first retry after a failure; doubles up to `minRefreshSeconds`. */
const initialRetrySeconds = 1;

class JwksFetchError extends Error {
  override name = 'JwksFetchError';
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`createJwksKeyProvider: ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Turns a JWKS document into usable verification keys. Only RSA keys with a `kid` are kept, and
 * only if their optional `use` is `sig` and optional `alg` is `RS256` (RFC 7517 §4.2, §4.4;
 * RFC 8725 §3.1: a key is used with one algorithm). Only the public members `n` and `e` are
 * passed to the parser, so a private member published by mistake is never imported.
 */
function toKeys(
  document: unknown,
  previous: ReadonlyMap<string, HeldKey> | undefined,
  logger: Logger,
): Map<string, HeldKey> {
  if (!isRecord(document) || !Array.isArray(document.keys)) {
    throw new JwksFetchError('JWKS has no "keys" array');
  }
  const keys = new Map<string, HeldKey>();
  for (const jwk of document.keys as unknown[]) {
    if (!isRecord(jwk)) continue;
    const { kty, kid, use, alg, n, e } = jwk;
    if (kty !== 'RSA' || typeof kid !== 'string' || kid === '') continue;
    if (use !== undefined && use !== 'sig') continue;
    if (alg !== undefined && alg !== 'RS256') continue;
    if (typeof n !== 'string' || typeof e !== 'string') continue;
    if (keys.has(kid)) {
      logger.warn({ kid }, 'JWKS lists a kid twice; keeping the first');
      continue;
    }
    const material = `${n}.${e}`;
    const held = previous?.get(kid);
    if (held?.material === material) {
      keys.set(kid, held);
      continue;
    }
    try {
      keys.set(kid, { material, key: createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' }) });
    } catch (error) {
      logger.warn({ kid, err: String(error) }, 'skipping a JWK that does not parse');
    }
  }
  if (keys.size === 0) throw new JwksFetchError('JWKS has no usable RS256 signing keys');
  return keys;
}

/**
 * Creates the resource server's in-memory copy of the auth server's JWKS.
 *
 * Refreshes follow the response's `Cache-Control: max-age` (clamped), revalidate with
 * `If-None-Match` (a 304 keeps the set and resets its age), and a failed, malformed or empty
 * response never replaces the last good set — so verification keeps working while the auth
 * server is unreachable (see docs/architecture.md), for a bounded stale window.
 * A successful refresh replaces the set, so keys the server stopped publishing (retired,
 * compromised) stop verifying from then on.
 *
 * @example
 * const keys = createJwksKeyProvider({ jwksUri: 'http://localhost:4000/.well-known/jwks.json', logger });
 * await keys.start();
 */
export function createJwksKeyProvider(options: JwksKeyProviderOptions): JwksKeyProvider {
  const { jwksUri, logger } = options;
  const clock = options.clock ?? systemClock;
  const minRefreshSeconds = positive('minRefreshSeconds', options.minRefreshSeconds ?? 30);
  const maxRefreshSeconds = positive('maxRefreshSeconds', options.maxRefreshSeconds ?? 3600);
  const cooldownMs = positive('unknownKidCooldownSeconds', options.unknownKidCooldownSeconds ?? 30) * 1000;
  const fetchTimeoutMs = positive('fetchTimeoutMs', options.fetchTimeoutMs ?? 5000);
  const unknownKidBudget = positive('unknownKidBudget', options.unknownKidBudget ?? 5);
  const budgetWindowMs =
    positive('unknownKidBudgetWindowSeconds', options.unknownKidBudgetWindowSeconds ?? 3600) * 1000;
  const staleWindowSeconds = positive('staleWindowSeconds', options.staleWindowSeconds ?? 3600);
  if (minRefreshSeconds > maxRefreshSeconds) {
    throw new TypeError('createJwksKeyProvider: minRefreshSeconds must not exceed maxRefreshSeconds');
  }
  try {
    new URL(jwksUri);
  } catch {
    throw new TypeError(`createJwksKeyProvider: jwksUri must be an absolute URL, got "${jwksUri}"`);
  }

  /** When the last unknown-kid refetches happened, newest last, within the budget window. */
  const unknownKidFetches: number[] = [];
  /** Until when the held set may be used: confirmation + refresh interval + stale window. */
  let usableUntil = 0;
  /** The last key-set version announced to keySetChanged(), which is refetched at most once. */
  let announced: string | undefined;

  // Fetching, revalidation (If-None-Match), keeping the last good set, single-flight refreshes,
  // scheduling and backoff are the poller's; what is left here is specific to keys.
  const poller = createDocumentPoller<ReadonlyMap<string, HeldKey>>({
    uri: jwksUri,
    name: 'JWKS',
    logger,
    clock,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.onFetch === undefined ? {} : { onFetch: options.onFetch }),
    timeoutMs: fetchTimeoutMs,
    // A JWKS is a few kilobytes; refuse to buffer anything absurd.
    maxBytes: 1024 * 1024,
    accept: 'application/jwk-set+json, application/json',
    heldName: 'key set',
    logFields: (keys, line) => (line === 'loaded' ? { keyCount: keys.size } : { keptKeys: keys.size }),
    parse: (document, previous) => toKeys(document, previous, logger),
    onSuccess({ maxAgeSeconds, staleIfErrorSeconds }) {
      const maxAge = maxAgeSeconds ?? defaultRefreshSeconds;
      const refreshSeconds = Math.min(maxRefreshSeconds, Math.max(minRefreshSeconds, maxAge));
      const staleSeconds = Math.min(staleWindowSeconds, staleIfErrorSeconds ?? staleWindowSeconds);
      usableUntil = clock.now() + (refreshSeconds + staleSeconds) * 1000;
      return refreshSeconds;
    },
    retrySeconds: (failures) => Math.min(minRefreshSeconds, initialRetrySeconds * 2 ** (failures - 1)),
  });

  return {
    start: () => poller.start(),

    async getKey(kid) {
      const held = poller.current()?.get(kid);
      if (held !== undefined) return held.key;
      // A refresh already in flight (background or another caller's) is shared, and costs nothing.
      if (!poller.refreshing()) {
        const now = clock.now();
        while (unknownKidFetches[0] !== undefined && now - unknownKidFetches[0] >= budgetWindowMs)
          unknownKidFetches.shift();
        const last = unknownKidFetches.at(-1);
        // Cooldown and budget: a flood of tokens with made-up kids costs the auth server at most one
        // request per cooldown, and at most `unknownKidBudget` per window however long it lasts.
        if (last !== undefined && now - last < cooldownMs) return undefined;
        if (unknownKidFetches.length >= unknownKidBudget) return undefined;
        unknownKidFetches.push(now);
      }
      await poller.refresh();
      return poller.current()?.get(kid)?.key;
    },

    keySetChanged(version) {
      if (version === announced || version === poller.version()) return;
      announced = version;
      logger.info({ version }, 'the auth server announced a new key set; refetching the JWKS');
      void poller.refresh();
    },

    status() {
      const { loaded, ageSeconds, lastError } = poller.status();
      return {
        loaded,
        usable: loaded && clock.now() < usableUntil,
        keyCount: poller.current()?.size ?? 0,
        ageSeconds,
        lastError,
      };
    },

    stop: () => poller.stop(),
  };
}
