import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Ends a response with a body that is already text (or bytes), setting `Content-Type` and
 * `Content-Length` directly. Every answer of both services goes out this way: Express's
 * `res.json`/`res.send` resolve the content type through mime-types, look up settings and
 * re-check freshness on every call, about 10 µs of a cached-token request (issue #7). Headers
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
