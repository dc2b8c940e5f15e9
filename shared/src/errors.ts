import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { sendJson, sendJsonAndClose } from './http/send.js';

/**
 * The error catalogue: every error code, each with where it ends. Errors carry their code
 * (`AppError`, `LocalError`) and nothing maps an error by its class.
 *
 * Wire codes (`ErrorCode`): what a Tessera service may put on the wire, with its HTTP status. The
 * OAuth ones are the RFC 6749 §5.2 / RFC 6750 §3.1 / RFC 7009 names; the rest are for plain HTTP
 * failures. Local codes (`LocalErrorCode`, below): failures that never reach the wire (the admin
 * CLI, start-up), with the process exit status.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'too_many_requests'
  | 'temporarily_unavailable'
  | 'insufficient_storage'
  | 'server_error';

const statusByCode: Readonly<Record<ErrorCode, number>> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  // RFC 8707 §2: the requested resource is invalid, unknown or not allowed to the client.
  invalid_target: 400,
  unsupported_token_type: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  temporarily_unavailable: 503,
  insufficient_storage: 507,
  server_error: 500,
};

/** Codes that never reach the wire; a process that ends on one exits with its status. */
export type LocalErrorCode =
  /** The command line is wrong (an unknown command or flag, a missing argument). */
  | 'usage'
  /** The environment does not configure the service (ConfigError). */
  | 'invalid_config'
  /** Input to a domain operation is refused (an admin command, a registration); the message says why. */
  | 'invalid_input'
  /** Anything else: a bug, a database that is down. */
  | 'failed';

const exitStatusByLocalCode: Readonly<Record<LocalErrorCode, number>> = {
  usage: 2,
  invalid_config: 1,
  invalid_input: 1,
  failed: 1,
};

/** The exit status of a process that ends on an error with this code (a wire code: 1). */
export function exitStatusOf(code: ErrorCode | LocalErrorCode): number {
  return Object.hasOwn(exitStatusByLocalCode, code) ? exitStatusByLocalCode[code as LocalErrorCode] : 1;
}

/** The catalogue code an error carries; `failed` for anything else thrown. */
export function errorCodeOf(error: unknown): ErrorCode | LocalErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' &&
    (Object.hasOwn(statusByCode, code) || Object.hasOwn(exitStatusByLocalCode, code))
    ? (code as ErrorCode | LocalErrorCode)
    : 'failed';
}

/** An error that never reaches the wire: a local code and a message safe to show whoever ran the command. */
export class LocalError extends Error {
  readonly code: LocalErrorCode;
  constructor(code: LocalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalError';
    this.code = code;
  }
}

export interface AppErrorOptions {
  cause?: unknown;
  /** Extra response headers, e.g. `Allow` or `Retry-After`. */
  headers?: Readonly<Record<string, string>>;
  /** For `insufficient_scope`: the scope the resource needs (RFC 6750 §3). */
  scope?: string;
  /**
   * The authentication scheme this error answers for. `Bearer` on an `invalid_request` about
   * the bearer token itself (a malformed header, a token sent two ways) adds the RFC 6750 §3
   * challenge; other `invalid_request`s (a bad form field, a bad body) carry none.
   */
  challenge?: 'Bearer';
}

/** The one error class: a wire code, a description safe to show the client, and the cause. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly scope: string | undefined;
  readonly challenge: 'Bearer' | undefined;

  constructor(code: ErrorCode, description: string, options: AppErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = statusByCode[code];
    this.headers = options.headers ?? {};
    this.scope = options.scope;
    this.challenge = options.challenge;
  }
}

export interface ErrorBody {
  error: ErrorCode;
  error_description?: string;
}

/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
const descriptionPattern = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;

/**
 * What the client sees of an error: the code and description (reduced to the RFC 6749
 * §5.2 character set, so echoed input cannot break it), never a stack or a cause.
 */
export function toErrorBody(error: AppError): ErrorBody {
  return error.code === 'server_error'
    ? { error: 'server_error', error_description: 'internal error' }
    : { error: error.code, error_description: error.message.replace(descriptionPattern, '') };
}

/** Turns anything thrown into an AppError; unknown errors become `server_error`. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  // body-parser and raw-body errors carry `type` and `status` (express.urlencoded/json).
  if (typeof error === 'object' && error !== null && 'type' in error) {
    const type = error.type;
    switch (type) {
      case 'entity.too.large':
        return new AppError('payload_too_large', 'request body too large', { cause: error });
      case 'entity.parse.failed':
        return new AppError('invalid_request', 'malformed request body', { cause: error });
      case 'parameters.too.many':
        return new AppError('invalid_request', 'too many parameters', { cause: error });
      case 'charset.unsupported':
      case 'encoding.unsupported':
        return new AppError('unsupported_media_type', 'unsupported body encoding', { cause: error });
      case 'request.aborted':
        return new AppError('invalid_request', 'request aborted', { cause: error });
    }
  }
  if (error instanceof URIError) return new AppError('invalid_request', 'malformed URI', { cause: error });
  return new AppError('server_error', 'internal error', { cause: error });
}

/** Quotes a value for an auth-param (RFC 7235 §2.1 quoted-string). */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '')}"`;
}

/**
 * The `WWW-Authenticate` challenge for an error: Basic for `invalid_client` (RFC 6749 §5.2),
 * Bearer with the error attributes for bearer failures (RFC 6750 §3: `invalid_token`,
 * `insufficient_scope`, and `invalid_request` when it is about the bearer token), and a bare
 * Bearer challenge when the request carried no token at all (RFC 6750 §3.1).
 */
export function toChallenge(error: AppError, realm: string, resourceMetadata?: string): string | undefined {
  // RFC 9728 §5.1: a protected resource points clients at its metadata in every Bearer challenge.
  const metadata = resourceMetadata === undefined ? '' : `, resource_metadata=${quote(resourceMetadata)}`;
  switch (error.code) {
    case 'invalid_client':
      return `Basic realm=${quote(realm)}, charset="UTF-8"`;
    case 'unauthorized':
      return `Bearer realm=${quote(realm)}${metadata}`;
    case 'invalid_request':
    case 'invalid_token':
    case 'insufficient_scope': {
      // Only a malformed bearer request, not any bad parameter, is a Bearer matter (RFC 6750 §3.1).
      if (error.code === 'invalid_request' && error.challenge !== 'Bearer') return undefined;
      const parts = [`realm=${quote(realm)}`, `error=${quote(error.code)}`];
      parts.push(`error_description=${quote(error.message)}`);
      if (error.scope !== undefined) parts.push(`scope=${quote(error.scope)}`);
      return `Bearer ${parts.join(', ')}${metadata}`;
    }
    default:
      return undefined;
  }
}

export interface ErrorHandlerOptions {
  logger: Logger;
  realm: string;
  /**
   * The URL of this protected resource's RFC 9728 metadata, added to every Bearer challenge as
   * `resource_metadata` (RFC 9728 §5.1); resource servers set it, the auth server does not.
   */
  resourceMetadata?: string;
  /** Recognises a service's own failures (e.g. its database being down) before the defaults apply. */
  translate?: (error: unknown) => AppError | undefined;
  /** Sees every error answer (for metrics), after it is mapped to the wire. */
  observe?: (error: AppError, req: Request) => void;
}

/**
 * The one error handler, registered last: maps to the wire, sets `WWW-Authenticate`, ends
 * the connection after a 413 (see {@link sendJsonAndClose}), logs once (5xx at error with the cause, 4xx at debug), and never leaks a stack.
 */
export function createErrorHandler({
  logger,
  realm,
  resourceMetadata,
  translate,
  observe,
}: ErrorHandlerOptions): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const error = translate?.(err) ?? toAppError(err);
    observe?.(error, req);
    // The request's logger is made on first use (see createHttpLogger): only when the line is written.
    const level = error.status >= 500 ? 'error' : 'debug';
    if (logger.isLevelEnabled(level)) {
      const log = (req as { log?: Logger }).log ?? logger;
      if (level === 'error') log.error({ err: error.cause ?? error, code: error.code }, 'request failed');
      else log.debug({ code: error.code, description: error.message }, 'request rejected');
    }
    const challenge = toChallenge(error, realm, resourceMetadata);
    if (challenge !== undefined) res.setHeader('WWW-Authenticate', challenge);
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    res.setHeader('Cache-Control', 'no-store');
    // A body too large is left unread: answer, then close the connection rather than read it all.
    if (error.code === 'payload_too_large') sendJsonAndClose(req, res, error.status, toErrorBody(error));
    else sendJson(res, error.status, toErrorBody(error));
  };
}

/** The last route: anything unmatched is a 404 in the same error format. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `no route for ${req.method} ${req.path}`));
};

/** For a route that exists but not with this method (RFC 9110 §15.5.6 requires `Allow`). */
export function methodNotAllowed(allow: readonly string[]): RequestHandler {
  return (req, _res, next) => {
    next(
      new AppError('method_not_allowed', `${req.method} is not allowed here`, {
        headers: { Allow: allow.join(', ') },
      }),
    );
  };
}
