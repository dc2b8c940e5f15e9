import express, { type Request, type RequestHandler } from 'express';
import { AppError } from '@tessera/shared';
import type { ClientCredentials, ClientService } from '../clients/clients.js';
import type { ClientRecord } from '../storage/storage.js';

/**
 * Form bodies for the OAuth endpoints (RFC 6749 §3.2): urlencoded only, small, flat.
 * Anything else is `invalid_request` rather than a silently empty body.
 */
export function createFormParser(): RequestHandler[] {
  const requireForm: RequestHandler = (req, _res, next) => {
    // req.is() is null without a body and false for another type: both are refused.
    if (!req.is('application/x-www-form-urlencoded')) {
      next(new AppError('invalid_request', 'the body must be application/x-www-form-urlencoded'));
      return;
    }
    next();
  };
  return [requireForm, express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 50 })];
}

/** Parameters the request URI must never carry (RFC 6749 §2.3.1, §3.2; RFC 6750 §2.3). */
const credentialParameters = [
  'client_secret',
  'password',
  'refresh_token',
  'access_token',
  'token',
  'assertion',
];

/**
 * The body's parameters as single strings. RFC 6749 §3.1: a parameter sent without a
 * value is treated as omitted, and none may be repeated.
 */
export function readParams(body: unknown, query: Record<string, unknown>): ReadonlyMap<string, string> {
  const inQuery = credentialParameters.filter((name) => name in query);
  if (inQuery.length > 0)
    throw new AppError('invalid_request', `${inQuery.join(', ')} must not be sent in the request URI`);
  const params = new Map<string, string>();
  for (const [name, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new AppError('invalid_request', `parameter ${name} is repeated`);
    if (typeof value === 'string' && value !== '') params.set(name, value);
  }
  return params;
}

const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding. */
function decodeFormComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new AppError('invalid_client', 'malformed Basic credentials');
  }
}

/**
 * How the client authenticates: the Basic header (client_secret_basic), the body
 * (client_secret_post), or a bare client_id (a public client). Using two methods at once
 * is `invalid_request` (RFC 6749 §2.3).
 */
export function readClientCredentials(
  authorization: string | undefined,
  params: ReadonlyMap<string, string>,
): ClientCredentials {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  if (authorization !== undefined) {
    const match = /^Basic +(\S+) *$/i.exec(authorization);
    if (match?.[1] === undefined || !base64Pattern.test(match[1]))
      throw new AppError('invalid_client', 'unsupported or malformed Authorization header');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new AppError('invalid_client', 'malformed Basic credentials');
    const clientId = decodeFormComponent(decoded.slice(0, colon));
    if (bodySecret !== undefined)
      throw new AppError('invalid_request', 'use only one client authentication method');
    if (bodyId !== undefined && bodyId !== clientId)
      throw new AppError('invalid_request', 'client_id does not match the Authorization header');
    return { method: 'client_secret_basic', clientId, secret: decodeFormComponent(decoded.slice(colon + 1)) };
  }
  if (bodyId === undefined) throw new AppError('invalid_client', 'client authentication required');
  return bodySecret === undefined
    ? { method: 'none', clientId: bodyId }
    : { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
}

/** The form's parameters and the client they authenticate (token, revocation, introspection). */
export async function authenticateClient(
  req: Request,
  clients: ClientService,
): Promise<{ client: ClientRecord; params: ReadonlyMap<string, string> }> {
  const params = readParams(req.body, req.query);
  const client = await clients.authenticate(readClientCredentials(req.headers.authorization, params));
  return { client, params };
}

/** A parameter the endpoint requires; `invalid_request` if it is missing (RFC 6749 §5.2). */
export function requireParam(params: ReadonlyMap<string, string>, name: string): string {
  const value = params.get(name);
  if (value === undefined) throw new AppError('invalid_request', `missing parameter: ${name}`);
  return value;
}
