import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Request logging with a request id (taken from a well-formed `X-Request-Id`, else a new
 * UUID, echoed back). Only method, path and id are logged: no headers and no query string,
 * so a credential sent in the wrong place still never reaches a log.
 */
export function createHttpLogger(logger: Logger): HttpLogger {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        path: req.url.split('?', 1)[0],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // 500 is a bug; 503 (not ready, shedding load) is an expected state, logged as a warning.
    customLogLevel: (_req, res, err) =>
      err !== undefined || res.statusCode === 500 ? 'error' : res.statusCode >= 500 ? 'warn' : 'info',
  });
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
