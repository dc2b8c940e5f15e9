import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';

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
/** A JWKS is a few kilobytes; refuse to buffer anything absurd. */
const maxBodyBytes = 1024 * 1024;

class JwksFetchError extends Error {
  override name = 'JwksFetchError';
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`createJwksKeyProvider: ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/** `max-age` from a Cache-Control header (RFC 9111 §5.2.2.1), or undefined. */
function toMaxAgeSeconds(cacheControl: string | null): number | undefined {
  if (cacheControl === null) return undefined;
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/i.exec(cacheControl);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** `stale-if-error` from a Cache-Control header (RFC 5861 §4), or undefined. */
function toStaleIfErrorSeconds(cacheControl: string | null): number | undefined {
  if (cacheControl === null) return undefined;
  const match = /(?:^|,)\s*stale-if-error\s*=\s*"?(\d+)"?\s*(?:,|$)/i.exec(cacheControl);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** A one-line reason; undici's "fetch failed" hides the useful part (ECONNREFUSED, ...) in `cause`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
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
  previous: ReadonlyMap<string, HeldKey>,
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
    const held = previous.get(kid);
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
 * server is unreachable (DESIGN.md, "kept serving from cache"), for a bounded stale window.
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
  const doFetch = options.fetch ?? globalThis.fetch;
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

  let keys: ReadonlyMap<string, HeldKey> = new Map();
  let loaded = false;
  let etag: string | undefined;
  let confirmedAt: number | undefined;
  let lastError: string | undefined;
  let consecutiveFailures = 0;
  let inFlight: Promise<void> | undefined;
  /** When the last unknown-kid refetches happened, newest last, within the budget window. */
  const unknownKidFetches: number[] = [];
  /** Until when the held set may be used: confirmation + refresh interval + stale window. */
  let usableUntil = 0;
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  /** One request; resolves to the caching the response asks for. Throws on any failure. */
  async function fetchOnce(): Promise<{ maxAge: number; staleIfError: number | undefined }> {
    const controller = new AbortController();
    const timeout = setTimeout(
      () => controller.abort(new JwksFetchError(`JWKS request timed out after ${fetchTimeoutMs} ms`)),
      fetchTimeoutMs,
    );
    timeout.unref();
    try {
      const headers: Record<string, string> = { accept: 'application/jwk-set+json, application/json' };
      // RFC 9110 §13.1.2: revalidate instead of downloading the same set again.
      if (etag !== undefined && loaded) headers['if-none-match'] = etag;
      const response = await doFetch(jwksUri, { headers, signal: controller.signal });
      const cacheControl = response.headers.get('cache-control');
      const caching = {
        maxAge: toMaxAgeSeconds(cacheControl) ?? defaultRefreshSeconds,
        staleIfError: toStaleIfErrorSeconds(cacheControl),
      };
      if (response.status === 304 && loaded) {
        await response.body?.cancel();
        return caching;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new JwksFetchError(`JWKS request answered HTTP ${response.status}`);
      }
      if (Number(response.headers.get('content-length') ?? 0) > maxBodyBytes) {
        await response.body?.cancel();
        throw new JwksFetchError('JWKS response is too large');
      }
      const text = await response.text();
      if (text.length > maxBodyBytes) throw new JwksFetchError('JWKS response is too large');
      let document: unknown;
      try {
        document = JSON.parse(text);
      } catch {
        throw new JwksFetchError('JWKS response is not JSON');
      }
      keys = toKeys(document, keys, logger);
      etag = response.headers.get('etag') ?? undefined;
      if (!loaded) logger.info({ keyCount: keys.size }, 'JWKS loaded');
      loaded = true;
      return caching;
    } catch (error) {
      // An abort rejects with the reason given to abort(); undici may wrap it.
      if (controller.signal.aborted && controller.signal.reason instanceof Error)
        throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timeout);
    }
  }

  function schedule(delaySeconds: number): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (!running) return;
    timer = setTimeout(() => {
      timer = undefined;
      void refresh();
    }, delaySeconds * 1000);
    // A key cache must never keep the process alive on its own.
    timer.unref();
  }

  /** Fetches the set (single-flight) and reschedules the next refresh. Never rejects. */
  function refresh(): Promise<void> {
    inFlight ??= fetchOnce()
      .then(
        ({ maxAge, staleIfError }) => {
          confirmedAt = clock.now();
          lastError = undefined;
          consecutiveFailures = 0;
          const refreshSeconds = Math.min(maxRefreshSeconds, Math.max(minRefreshSeconds, maxAge));
          const staleSeconds = Math.min(staleWindowSeconds, staleIfError ?? staleWindowSeconds);
          usableUntil = confirmedAt + (refreshSeconds + staleSeconds) * 1000;
          schedule(refreshSeconds);
        },
        (error: unknown) => {
          lastError = describe(error);
          consecutiveFailures += 1;
          logger.warn(
            { jwksUri, err: lastError, keptKeys: keys.size },
            loaded ? 'JWKS refresh failed; keeping the last good key set' : 'JWKS load failed; will retry',
          );
          schedule(Math.min(minRefreshSeconds, initialRetrySeconds * 2 ** (consecutiveFailures - 1)));
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  return {
    start() {
      running = true;
      return refresh();
    },

    async getKey(kid) {
      const held = keys.get(kid);
      if (held !== undefined) return held.key;
      if (inFlight === undefined) {
        const now = clock.now();
        while (unknownKidFetches[0] !== undefined && now - unknownKidFetches[0] >= budgetWindowMs)
          unknownKidFetches.shift();
        const last = unknownKidFetches.at(-1);
        // Cooldown and budget: a flood of tokens with made-up kids costs the auth server at most one
        // request per cooldown, and at most `unknownKidBudget` per window however long it lasts.
        if (last !== undefined && now - last < cooldownMs) return undefined;
        if (unknownKidFetches.length >= unknownKidBudget) return undefined;
        unknownKidFetches.push(now);
        await refresh();
      } else {
        await inFlight;
      }
      return keys.get(kid)?.key;
    },

    status() {
      return {
        loaded,
        usable: loaded && clock.now() < usableUntil,
        keyCount: keys.size,
        ageSeconds:
          confirmedAt === undefined ? undefined : Math.max(0, Math.floor((clock.now() - confirmedAt) / 1000)),
        lastError,
      };
    },

    stop() {
      running = false;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
