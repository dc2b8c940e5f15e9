import express, { type RequestHandler } from 'express';
import type { z } from 'zod';
import { AppError, toAppError } from '@tessera/shared';

const formType = 'application/x-www-form-urlencoded';
/** Ours are a few hundred bytes; RFC 6749 sets no limit, so the server must. */
const maxFormBytes = 8 * 1024;
const maxFormParameters = 50;

/** The media type and charset of a Content-Type header, lowercased (RFC 9110 §8.3.1). */
function parseContentType(header: string): { type: string; charset: string | undefined } {
  const [type = '', ...parameters] = header.split(';');
  let charset: string | undefined;
  for (const parameter of parameters) {
    const eq = parameter.indexOf('=');
    if (eq !== -1 && parameter.slice(0, eq).trim().toLowerCase() === 'charset') {
      charset = parameter
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
    }
  }
  return { type: type.trim().toLowerCase(), charset };
}

/**
 * Form bodies for the OAuth endpoints (RFC 6749 §3.2): `application/x-www-form-urlencoded` in
 * UTF-8 only (RFC 6749 Appendix B), uncompressed, at most 8 KB and 50 parameters; anything else
 * is refused (`invalid_request`, 415 for another charset or a Content-Encoding, 413 when too
 * large) rather than read as an empty body. Read by `express.urlencoded`; `req.body` gets each
 * parameter as a string, or an array when it is repeated (which `readParams` refuses).
 */
export function createFormParser(): RequestHandler {
  const parse = express.urlencoded({
    extended: false,
    limit: maxFormBytes,
    parameterLimit: maxFormParameters,
    inflate: false,
    type: formType,
  });
  return (req, res, next) => {
    // A body is there when its length is given or it is chunked (as type-is decides).
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(req.headers['content-length']));
    const { type, charset } = parseContentType(req.headers['content-type'] ?? '');
    if (!hasBody || type !== formType) throw new AppError('invalid_request', `the body must be ${formType}`);
    // body-parser would also read ISO-8859-1; RFC 6749 Appendix B allows UTF-8 only.
    if (charset !== undefined && charset !== 'utf-8')
      throw new AppError('unsupported_media_type', 'unsupported body encoding');
    // Refused before a byte is read: body-parser would first read off the whole declared body.
    if (Number(req.headers['content-length']) > maxFormBytes)
      throw new AppError('payload_too_large', 'request body too large');
    // Gone while an earlier middleware waited (the rate limiter): its 'close' has already fired.
    if (req.destroyed) throw new AppError('invalid_request', 'request aborted');
    // body-parser answers a body over the limit only once the client has sent all of it; a chunked
    // body is cut off here as soon as it passes the limit, so a client that then stalls holds nothing.
    let settled = false;
    let size = 0;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      req.off('data', count);
      next(error === undefined ? undefined : toAppError(error));
    };
    const count = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxFormBytes) finish(new AppError('payload_too_large', 'request body too large'));
    };
    req.on('data', count);
    parse(req, res, finish);
  };
}

/** Parameters the request URI must never carry (RFC 6749 §2.3.1, §3.2; RFC 6750 §2.3). */
const credentialParameters = [
  'client_secret',
  'password',
  'refresh_token',
  'access_token',
  'token',
  'assertion',
  'client_assertion',
];

/** Parameters that may be repeated (RFC 8707 §2: `resource`); read with {@link readRepeated}. */
const repeatableParameters = new Set(['resource']);

/** Every value of a repeatable parameter, empty ones dropped (RFC 6749 §3.1); [] if absent. */
export function readRepeated(body: unknown, name: string): string[] {
  if (!repeatableParameters.has(name)) throw new Error(`${name} is not a repeatable parameter`);
  const value = ((body ?? {}) as Record<string, unknown>)[name];
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  return values.filter((item): item is string => typeof item === 'string' && item !== '');
}

/**
 * The body's parameters as single strings. RFC 6749 §3.1: a parameter sent without a
 * value is treated as omitted, and none may be repeated (but the repeatable ones, which are
 * left to {@link readRepeated}).
 */
export function readParams(body: unknown, query: Record<string, unknown>): ReadonlyMap<string, string> {
  const inQuery = credentialParameters.filter((name) => name in query);
  if (inQuery.length > 0)
    throw new AppError('invalid_request', `${inQuery.join(', ')} must not be sent in the request URI`);
  const params = new Map<string, string>();
  for (const [name, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    if (repeatableParameters.has(name)) continue;
    if (Array.isArray(value)) throw new AppError('invalid_request', `parameter ${name} is repeated`);
    if (typeof value === 'string' && value !== '') params.set(name, value);
  }
  return params;
}

/**
 * The parameters checked against the endpoint's request schema (`contract.ts`): a missing
 * required one, or a value the schema does not take, is `invalid_request` (RFC 6749 §5.2). Unknown
 * parameters are ignored (RFC 6749 §3.1), and so is `resource`, which {@link readRepeated} reads.
 */
export function readForm<Schema extends z.ZodType>(
  schema: Schema,
  params: ReadonlyMap<string, string>,
): z.output<Schema> {
  const result = schema.safeParse(Object.fromEntries(params));
  if (result.success) return result.data;
  const missing = new Set<string>();
  const invalid = new Set<string>();
  for (const issue of result.error.issues) {
    const name = String(issue.path[0]);
    (params.has(name) ? invalid : missing).add(name);
  }
  throw new AppError(
    'invalid_request',
    missing.size > 0
      ? `missing parameter: ${[...missing].join(', ')}`
      : `invalid parameter: ${[...invalid].join(', ')}`,
  );
}
