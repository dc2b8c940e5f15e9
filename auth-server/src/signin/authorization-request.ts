import { AppError } from '@tessera/shared';
import { authorizationRequest, checkEach } from '../contract.js';
import type { TargetResolver } from '../resources/resource-request.js';
import type { ClientRecord, ClientStore } from '../storage/storage.js';
import { clientIdPattern } from '../clients/client-auth.js';
import { isRegisteredRedirectUri } from '../clients/redirect-uris.js';
import { parseScope } from '../tokens/scope.js';

/** OpenID Connect scopes: grantable to any client that signs people in, without registration. */
export const openIdScopes: readonly string[] = ['openid', 'profile'];
/** Standard OpenID Connect scopes (Core §5.4, §11) this server has no claims or offline grant for. */
const unservedOpenIdScopes: readonly string[] = ['email', 'address', 'phone', 'offline_access'];

/** A validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1). */
export interface AuthorizationRequest {
  client: ClientRecord;
  redirectUri: string;
  scope: readonly string[];
  /** The resources (RFC 8707) the tokens will be for. */
  resources: readonly string[];
  state: string | undefined;
  codeChallenge: string;
  nonce: string | undefined;
  prompt: ReadonlySet<string>;
  /** OpenID Connect `max_age`, seconds. */
  maxAgeSeconds: number | undefined;
  /** The request's query string, carried through the sign-in and consent forms and re-validated. */
  raw: string;
}

/** An authorization error response (RFC 6749 §4.1.2.1), sent to the validated redirect URI. */
export interface RedirectError {
  redirectUri: string;
  state: string | undefined;
  error: string;
  description: string;
}

export type ParsedAuthorizationRequest =
  | { kind: 'ok'; request: AuthorizationRequest }
  /** The client or redirect URI cannot be trusted: never redirect, show an error page. */
  | { kind: 'page'; message: string }
  | { kind: 'redirect'; error: RedirectError };

/** The `prompt` values taken (OpenID Connect Core §3.1.2.1; one account a browser, so select_account asks nothing). */
export const promptValues: readonly string[] = ['none', 'login', 'consent', 'select_account'];
const maxParameterLength = 2048;

/**
 * Reads an authorization request from its query string, each parameter checked by its schema
 * (`authorizationRequest` in contract.ts). The client and redirect URI are checked first: until both
 * are known good, nothing is redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11). Repeated parameters
 * are refused (RFC 6749 §3.1).
 */
export async function parseAuthorizationRequest(
  raw: string,
  clients: Pick<ClientStore, 'find'>,
  targets: TargetResolver,
): Promise<ParsedAuthorizationRequest> {
  const params = new URLSearchParams(raw);
  const seen = new Map<string, string>();
  const repeated = new Set<string>();
  // RFC 8707 §2: `resource` may be repeated, one per resource.
  const resources = params.getAll('resource').filter((value) => value !== '');
  for (const [name, value] of params) {
    if (name === 'resource') continue;
    if (seen.has(name)) repeated.add(name);
    // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
    if (value !== '') seen.set(name, value);
  }
  const { values, problems } = checkEach(authorizationRequest, seen);
  const clientId = values.client_id;
  if (clientId === undefined || repeated.has('client_id'))
    return { kind: 'page', message: 'The request does not name one application (client_id).' };
  const client = clientIdPattern.test(clientId) ? await clients.find(clientId) : undefined;
  if (client === undefined || !client.grants.includes('authorization_code'))
    return { kind: 'page', message: 'The application that sent you here is not registered for sign-in.' };
  const redirectUri = values.redirect_uri;
  if (redirectUri === undefined || repeated.has('redirect_uri'))
    return { kind: 'page', message: 'The request does not say where to return (redirect_uri).' };
  // Exact string comparison (RFC 9700 §2.1), but any port on a loopback IP (RFC 8252 §7.3).
  if (!isRegisteredRedirectUri(client.redirectUris, redirectUri))
    return {
      kind: 'page',
      message: 'The address the application asked to return to is not registered for it.',
    };

  const state = repeated.has('state') ? undefined : values.state;
  const fail = (error: string, description: string): ParsedAuthorizationRequest => ({
    kind: 'redirect',
    error: { redirectUri, state, error, description },
  });
  if (repeated.size > 0) return fail('invalid_request', `repeated parameter: ${[...repeated].join(', ')}`);
  for (const [name, value] of seen)
    if (value.length > maxParameterLength) return fail('invalid_request', `parameter ${name} is too long`);
  if (seen.has('request')) return fail('request_not_supported', 'request objects are not supported');
  if (seen.has('request_uri')) return fail('request_uri_not_supported', 'request_uri is not supported');
  if (problems.get('response_type') === 'missing')
    return fail('invalid_request', 'missing parameter: response_type');
  if (problems.has('response_type'))
    return fail('unsupported_response_type', 'only response_type=code is supported');
  if (problems.has('response_mode')) return fail('invalid_request', 'only response_mode=query is supported');

  // PKCE is required of every client (RFC 9700 §2.1.1), and only S256 (plain is refused).
  if (problems.get('code_challenge') === 'missing')
    return fail('invalid_request', 'code_challenge is required (PKCE)');
  if (problems.has('code_challenge_method'))
    return fail('invalid_request', 'code_challenge_method must be S256');
  const codeChallenge = values.code_challenge;
  if (codeChallenge === undefined) return fail('invalid_request', 'malformed code_challenge');

  let target: { uris: string[]; scopes: string[] } = { uris: [], scopes: [] };
  // A client with no resource may still sign people in (OpenID Connect only).
  if (resources.length > 0 || client.resources.length > 0) {
    try {
      target = await targets.resolve(client, resources);
    } catch (error) {
      if (error instanceof AppError && error.code === 'invalid_target')
        return fail('invalid_target', error.message);
      throw error;
    }
  }
  // What the client may have and its resources understand, and the OpenID Connect scopes.
  const understood = client.scopes.filter((item) => target.scopes.includes(item));
  const requested = values.scope;
  let scope: readonly string[];
  if (requested === undefined) scope = understood;
  else {
    const parsed = parseScope(requested);
    if (parsed === undefined) return fail('invalid_scope', 'malformed scope');
    // OpenID Connect Core §3.1.2.1: scope values not understood SHOULD be ignored; the standard
    // ones this server does not serve are (in an OpenID request only); others stay invalid_scope.
    const kept = [...parsed].filter((item) => !(parsed.has('openid') && unservedOpenIdScopes.includes(item)));
    const outside = kept.filter((item) => !understood.includes(item) && !openIdScopes.includes(item));
    if (outside.length > 0) return fail('invalid_scope', `scope not allowed: ${outside.join(' ')}`);
    scope = kept;
  }
  // A code for no resource gives a token only for userinfo, which needs openid (else the token
  // endpoint would refuse it, after the user signed in for nothing).
  if (target.uris.length === 0 && !scope.includes('openid'))
    return fail('invalid_scope', 'openid is required when the request is for no resource');

  const prompt = new Set((values.prompt ?? '').split(' ').filter((value) => value !== ''));
  if ([...prompt].some((value) => !promptValues.includes(value)))
    return fail('invalid_request', 'unsupported prompt value');
  if (prompt.has('none') && prompt.size > 1)
    return fail('invalid_request', 'prompt=none cannot be combined with other values');
  if (problems.has('max_age')) return fail('invalid_request', 'max_age must be a number of seconds');
  const maxAge = values.max_age;

  return {
    kind: 'ok',
    request: {
      client,
      redirectUri,
      scope,
      resources: target.uris,
      state,
      codeChallenge,
      nonce: values.nonce,
      prompt,
      maxAgeSeconds: maxAge === undefined ? undefined : Number(maxAge),
      raw: params.toString(),
    },
  };
}

/** The redirect URI with the response parameters added (its own query kept, RFC 6749 §3.1.2). */
export function redirectWith(redirectUri: string, parameters: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(parameters))
    if (value !== undefined) url.searchParams.append(name, value);
  return url.toString();
}
