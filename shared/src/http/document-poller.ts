import { types } from 'node:util';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';

/** What one request of a poller came to. */
export type FetchResult = 'updated' | 'not_modified' | 'failed';

/** Options for {@link createDocumentPoller}. */
export interface DocumentPollerOptions<T> {
  /** The document's URL. */
  uri: string;
  /** What the document is, for log lines ("JWKS", "revocation feed"). */
  name: string;
  logger: Logger;
  /**
   * Turns the parsed JSON into the held value; throws (with a reason) to reject the document.
   * `bytes` is the body's size.
   */
  parse(json: unknown, previous: T | undefined, bytes: number): T;
  /**
   * Called after each success (200 or 304) with the response's cache directives; returns the
   * seconds until the next refresh.
   */
  onSuccess(directives: CacheDirectives): number;
  /** Seconds until the next attempt after `failures` consecutive failures. */
  retrySeconds(failures: number): number;
  /** Told the outcome of every request (for metrics): a new document, a 304, or a failure. */
  onFetch?: (result: FetchResult) => void;
  clock?: Clock;
  fetch?: typeof fetch;
  /** Abort a request (including its body) after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Refuse bodies larger than this (default 1 MiB). */
  maxBytes?: number;
  accept?: string;
  /** What the held document is called in the refresh-failed warning (default "copy"). */
  heldName?: string;
  /** Extra fields describing the held document for the "loaded" and refresh-failed log lines. */
  logFields?(held: T, line: 'loaded' | 'kept'): Record<string, unknown>;
}

/** The caching a response asks for; absent directives are undefined. */
export interface CacheDirectives {
  /** `max-age` (RFC 9111 §5.2.2.1). */
  maxAgeSeconds?: number;
  /** `stale-if-error` (RFC 5861 §4): how long past max-age the document may serve through failures. */
  staleIfErrorSeconds?: number;
}

export interface DocumentPollerStatus {
  /** True once a document was loaded (it is never unloaded). */
  loaded: boolean;
  /** Seconds since the held document was last confirmed by the server (200 or 304). */
  ageSeconds: number | undefined;
  /** The last failure, cleared by the next success. */
  lastError: string | undefined;
}

/**
 * A JSON document kept in memory and refreshed in the background. The last good document is
 * kept through failures, malformed answers, redirects (refused, never followed) and timeouts; revalidation uses `If-None-Match`
 * (a 304 keeps it and resets its age; RFC 9110 §13.1.2).
 */
export interface DocumentPoller<T> {
  /** The first fetch, then background refreshing. Resolves after the first attempt; never rejects. */
  start(): Promise<void>;
  /** Fetches now, sharing a fetch already in flight; never rejects. */
  refresh(): Promise<void>;
  /** True while a fetch is in flight (which refresh() would share). */
  refreshing(): boolean;
  /** The held document, if any. */
  current(): T | undefined;
  /** The held document's ETag (its version), if the server sent one. */
  version(): string | undefined;
  status(): DocumentPollerStatus;
  /** Cancels background refreshes. */
  stop(): void;
}

class DocumentFetchError extends Error {
  override name = 'DocumentFetchError';
}

/** A delta-seconds directive (`max-age`, `stale-if-error`) from a Cache-Control header, or undefined. */
function directiveSeconds(cacheControl: string, directive: string): number | undefined {
  const match = new RegExp(`(?:^|,)\\s*${directive}\\s*=\\s*"?(\\d+)"?\\s*(?:,|$)`, 'i').exec(cacheControl);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function toCacheDirectives(cacheControl: string | null): CacheDirectives {
  if (cacheControl === null) return {};
  const maxAgeSeconds = directiveSeconds(cacheControl, 'max-age');
  const staleIfErrorSeconds = directiveSeconds(cacheControl, 'stale-if-error');
  return {
    ...(maxAgeSeconds === undefined ? {} : { maxAgeSeconds }),
    ...(staleIfErrorSeconds === undefined ? {} : { staleIfErrorSeconds }),
  };
}

/** A one-line reason; undici's "fetch failed" hides the useful part (ECONNREFUSED, ...) in `cause`. */
export function describeError(error: unknown): string {
  // isNativeError, not instanceof: errors from another realm (undici under jest's VM) are Errors too.
  if (!types.isNativeError(error)) return String(error);
  return types.isNativeError(error.cause) ? `${error.message} (${error.cause.message})` : error.message;
}

/** Reads a body, counting bytes as they arrive and giving up past `maxBytes` (chunked bodies too). */
async function readLimited(response: Response, maxBytes: number, name: string): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw new DocumentFetchError(`${name} response is too large`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function createDocumentPoller<T>(options: DocumentPollerOptions<T>): DocumentPoller<T> {
  const { uri, name, logger } = options;
  const clock = options.clock ?? systemClock;
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const heldName = options.heldName ?? 'copy';
  const logFields = (line: 'loaded' | 'kept'): Record<string, unknown> =>
    held === undefined || options.logFields === undefined ? {} : options.logFields(held, line);
  try {
    new URL(uri);
  } catch {
    throw new TypeError(`${name}: the URL must be absolute, got "${uri}"`);
  }

  let held: T | undefined;
  let etag: string | undefined;
  let confirmedAt: number | undefined;
  let lastError: string | undefined;
  let failures = 0;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  /** One request; resolves to the response's cache directives. Throws on any failure. */
  async function fetchOnce(): Promise<CacheDirectives> {
    const controller = new AbortController();
    const timeout = setTimeout(
      () => controller.abort(new DocumentFetchError(`${name} request timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    timeout.unref();
    try {
      const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
      if (etag !== undefined && held !== undefined) headers['if-none-match'] = etag;
      // A redirect is a failure, never followed: keys and revocations come only from the
      // configured URL (an open redirect on its host must not choose them; RFC 8725 §3.10).
      const response = await doFetch(uri, { headers, signal: controller.signal, redirect: 'error' });
      const directives = toCacheDirectives(response.headers.get('cache-control'));
      if (response.status === 304 && held !== undefined) {
        await response.body?.cancel();
        options.onFetch?.('not_modified');
        return directives;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new DocumentFetchError(`${name} request answered HTTP ${response.status}`);
      }
      if (Number(response.headers.get('content-length') ?? 0) > maxBytes) {
        await response.body?.cancel();
        throw new DocumentFetchError(`${name} response is too large`);
      }
      const body = await readLimited(response, maxBytes, name);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        throw new DocumentFetchError(`${name} response is not JSON`);
      }
      const first = held === undefined;
      held = options.parse(json, held, body.byteLength);
      etag = response.headers.get('etag') ?? undefined;
      if (first) logger.info({ uri, ...logFields('loaded') }, `${name} loaded`);
      options.onFetch?.('updated');
      return directives;
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
    // A cache must never keep the process alive on its own.
    timer.unref();
  }

  function refresh(): Promise<void> {
    inFlight ??= fetchOnce()
      .then(
        (directives) => {
          confirmedAt = clock.now();
          lastError = undefined;
          failures = 0;
          schedule(options.onSuccess(directives));
        },
        (error: unknown) => {
          lastError = describeError(error);
          failures += 1;
          options.onFetch?.('failed');
          logger.warn(
            { uri, err: lastError, ...logFields('kept') },
            held === undefined
              ? `${name} load failed; will retry`
              : `${name} refresh failed; keeping the last good ${heldName}`,
          );
          schedule(options.retrySeconds(failures));
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
    refresh,
    refreshing: () => inFlight !== undefined,
    current: () => held,
    version: () => (held === undefined ? undefined : etag),
    status: () => ({
      loaded: held !== undefined,
      ageSeconds:
        confirmedAt === undefined ? undefined : Math.max(0, Math.floor((clock.now() - confirmedAt) / 1000)),
      lastError,
    }),
    stop() {
      running = false;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
