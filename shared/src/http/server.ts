import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express, RequestHandler } from 'express';
import type { Logger } from 'pino';

declare module 'http' {
  interface IncomingMessage {
    /** This request's id (see {@link createHttpLogger}), echoed as `X-Request-Id`. */
    id: string;
    /** A logger whose lines carry this request's id, method and path (see {@link createHttpLogger}). */
    log: Logger;
  }
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;
/** The root logger the request's `log` is derived from (set per request by the middleware). */
const rootLogger = Symbol('tessera.rootLogger');
/** The request's own child logger, made on first use. */
const requestLogger = Symbol('tessera.requestLogger');

interface LoggedRequest extends IncomingMessage {
  originalUrl?: string;
  [rootLogger]?: Logger;
  [requestLogger]?: Logger;
}

/** Method, path (never the query string) and id: all a log line says about a request. */
function describe(req: LoggedRequest): { id: string; method: string | undefined; path: string } {
  const url = req.originalUrl ?? req.url ?? '';
  const query = url.indexOf('?');
  return { id: req.id, method: req.method, path: query === -1 ? url : url.slice(0, query) };
}

/** Request prototypes (one per Express app) that already have the lazy `log` accessor. */
const withLogAccessor = new WeakSet<object>();

/**
 * `req.log` as an accessor on the app's request prototype: the child logger (binding
 * `req: {id, method, path}`) costs ~3 µs to make, and most requests never log anything of
 * their own, so it is made on first use. Assigning `req.log` replaces it for that request.
 */
function addLogAccessor(prototype: object): void {
  withLogAccessor.add(prototype);
  Object.defineProperty(prototype, 'log', {
    configurable: true,
    get(this: LoggedRequest): Logger | undefined {
      const root = this[rootLogger];
      if (root === undefined) return undefined;
      return (this[requestLogger] ??= root.child({ req: describe(this) }));
    },
    set(this: LoggedRequest, value: Logger) {
      this[requestLogger] = value;
    },
  });
}

/**
 * Request logging with a request id (taken from a well-formed `X-Request-Id`, else a new
 * UUID, echoed back): one line per request when its response completes (or the connection
 * closes first), `{req: {id, method, path}, res: {statusCode}, responseTime}`, at `info` (5xx:
 * 500 at `error`, others — 503 not ready, shedding load — at `warn`). Only method, path and id
 * are logged: no headers and no query string, so a credential sent in the wrong place still
 * never reaches a log. `req.log` carries the same `req` binding.
 *
 * A few lines instead of pino-http: its per-request child logger (serialising and redacting the
 * bindings) and listener set cost more than the rest of a cached-token request.
 * `observe` sees every request at the same moment with its duration (the latency histogram),
 * so a request costs one listener, not one per concern.
 */
export function createHttpLogger(
  logger: Logger,
  options: { observe?: (req: IncomingMessage, res: ServerResponse, seconds: number) => void } = {},
): RequestHandler {
  const { observe } = options;
  return (req: LoggedRequest, res: ServerResponse, next: () => void) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    req[rootLogger] = logger;
    const prototype = Object.getPrototypeOf(req) as object;
    if (!withLogAccessor.has(prototype)) addLogAccessor(prototype);
    const started = performance.now();
    // 'close' follows 'finish' on every response, and also ends one whose client went away.
    res.on('close', () => {
      const elapsedMs = performance.now() - started;
      observe?.(req, res, elapsedMs / 1000);
      const statusCode = res.statusCode;
      const level = statusCode === 500 ? 'error' : statusCode >= 500 ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          req: describe(req),
          res: { statusCode },
          responseTime: Math.round(elapsedMs),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request completed',
      );
    });
    next();
  };
}

export interface Listening {
  server: Server;
  /** The bound port (useful with port 0). */
  port: number;
  /**
   * Graceful stop: accept no new connections, tell keep-alive clients to go
   * (`Connection: close` on every response from now on), let in-flight requests finish, then
   * resolve. Connections still open after `graceMs` are cut.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts an app listening; resolves once bound. */
export function listen(app: Express, options: { port: number; host: string }): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = app.listen(options.port, options.host, (error?: Error) => {
      if (error !== undefined) {
        reject(error);
        return;
      }
      const { port } = server.address() as AddressInfo;
      let closing: Promise<void> | undefined;
      resolve({
        server,
        port,
        close(graceMs = 10_000) {
          closing ??= new Promise<void>((done) => {
            // Runs before the app's handler, so even synchronous responses carry it.
            server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
              res.setHeader('Connection', 'close');
            });
            const force = setTimeout(() => server.closeAllConnections(), graceMs);
            force.unref();
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          });
          return closing;
        },
      });
    });
    server.once('error', reject);
  });
}

/**
 * On SIGTERM or SIGINT: log it, run `stop` (stop timers, close the server, then the stores), and
 * exit 0 once it is done, or 1 with one log line if it failed. Each service's composition root
 * calls this once.
 */
export function exitOnSignals(logger: Logger, stop: () => Promise<unknown>): void {
  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown did not complete cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
