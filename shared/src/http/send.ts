import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Ends a response with a body that is already text (or bytes), setting `Content-Type` and
 * `Content-Length` directly. Every answer of both services goes out this way: Express's
 * `res.json`/`res.send` resolve the content type through mime-types, look up settings and
 * re-check freshness on every call, about 10 µs of a cached-token request. Headers
 * set earlier (security headers, request id, `Cache-Control`) stay; Node leaves the body out
 * of an answer to HEAD.
 */
export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
  res.end(body);
}

/** A JSON answer (`application/json; charset=utf-8`), as {@link sendBody}. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendBody(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

/**
 * A JSON answer that ends the connection, for a request whose body is refused before it was read
 * (413). The answer goes out at once with `Connection: close`; then what the client is still
 * sending is read and dropped until its body ends or `lingerMs` passes, and only then is the
 * response ended and the socket closed. Closing at once, with the client's bytes still arriving,
 * makes the kernel answer them with a reset that can destroy our answer before the client reads
 * it (RFC 9112 §9.6: a server "SHOULD" keep reading after its last response instead). The
 * lingering is bounded, so a client that keeps sending cannot hold the connection.
 */
export function sendJsonAndClose(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  value: unknown,
  lingerMs = 2000,
): void {
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Connection', 'close');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (req.complete || req.destroyed) {
    res.end(body);
    return;
  }
  res.write(body);
  const drop = () => undefined;
  const done = () => {
    clearTimeout(timer);
    req.off('data', drop);
    req.off('end', done);
    req.off('close', done);
    res.end();
  };
  const timer = setTimeout(done, lingerMs);
  timer.unref();
  req.on('data', drop);
  req.once('end', done);
  req.once('close', done);
  req.resume();
}

/** True when an If-None-Match header matches the ETag (weak comparison, RFC 9110 §13.1.2). */
function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

/**
 * Sends a public, cacheable document with a strong ETag, or 304 Not Modified (RFC 9110 §15.4.5)
 * when the client already holds it. The body and its ETag are computed once by the caller.
 */
export function sendCacheable(
  req: IncomingMessage,
  res: ServerResponse,
  document: { body: string | Buffer; etag: string; contentType: string; cacheControl: string },
): void {
  res.setHeader('Cache-Control', document.cacheControl);
  res.setHeader('ETag', document.etag);
  if (matchesEtag(req.headers['if-none-match'], document.etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  sendBody(res, 200, document.contentType, document.body);
}
