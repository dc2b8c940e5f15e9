import { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { AppError, methodNotAllowed, type Clock, type Logger } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import { checkEach, consentForm, signInForm } from '../contract.js';
import type { ConcurrencyLimit } from '../limits/concurrency-limit.js';
import type { LoginThrottle } from '../limits/login-throttle.js';
import { limitByIp, type RequestLimiter } from '../limits/request-limiter.js';
import { formTargetOf, seeOther, sendPage } from '../pages/html.js';
import { consentPage, errorPage, signInPage } from '../pages/pages.js';
import {
  openIdScopes,
  parseAuthorizationRequest,
  redirectWith,
  type AuthorizationRequest,
  type RedirectError,
} from '../signin/authorization-request.js';
import type { TargetResolver } from '../resources/resource-request.js';
import type { AuthorizationCodeService } from '../signin/codes.js';
import type { BrowserSessions } from '../signin/sessions.js';
import type { BrowserSessionRecord, ClientStore, Storage, UserRecord } from '../storage/storage.js';
import type { UserService } from '../users/users.js';
import { createFormParser } from './form.js';

export const authorizePath = '/oauth/authorize';
export const signInPath = '/oauth/authorize/sign-in';
export const consentPath = '/oauth/authorize/consent';

const wrongCredentials = 'The username or password is wrong.';
const expiredForm =
  'This form has expired or did not come from this site. Go back to the application and start again.';

/** A form's fields as single strings; a repeated field counts as missing. */
export function formFields(body: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of Object.entries((body ?? {}) as Record<string, unknown>))
    if (typeof value === 'string') fields.set(name, value);
  return fields;
}

/** The part of a request URL after `?`, as sent. */
export function rawQuery(req: Request): string {
  const at = req.originalUrl.indexOf('?');
  return at === -1 ? '' : req.originalUrl.slice(at + 1);
}

/**
 * The authorization endpoint (RFC 6749 §4.1, RFC 7636, OpenID Connect Core §3.1.2) and the pages
 * behind it: sign-in, then consent (skipped for first-party clients and remembered per user and
 * client), then a redirect with a single-use code, `state` and `iss` (RFC 9207). Nothing needs
 * JavaScript; every form carries a CSRF token; the pages' CSP forbids scripts and framing.
 */
export function createAuthorizeRouter(deps: {
  issuer: string;
  clients: Pick<ClientStore, 'find'>;
  /** Resolves the `resource` parameters (RFC 8707) as the token endpoint does. */
  targets: TargetResolver;
  storage: Pick<Storage, 'users' | 'consents'>;
  users: UserService;
  sessions: BrowserSessions;
  codes: AuthorizationCodeService;
  throttle: LoginThrottle;
  passwordChecks: ConcurrencyLimit;
  /** Requests per client IP to these pages (each reaches the store). */
  signInLimiter: RequestLimiter;
  audit: AuditTrail;
  clock: Clock;
  logger: Logger;
  translateError?: (error: unknown) => AppError | undefined;
}): Router {
  const { issuer, sessions, storage, audit, clock } = deps;
  const base = new URL(issuer).pathname.replace(/\/$/, '');

  function redirectError(res: Response, error: RedirectError): void {
    seeOther(
      res,
      redirectWith(error.redirectUri, {
        error: error.error,
        error_description: error.description,
        state: error.state,
        iss: issuer,
      }),
    );
  }

  function showError(res: Response, status: number, message: string): void {
    sendPage(res, status, errorPage(message));
  }

  function showSignIn(
    req: Request,
    res: Response,
    request: AuthorizationRequest,
    status = 200,
    extra: { username?: string; error?: string } = {},
  ): void {
    sendPage(res, status, {
      ...signInPage({
        action: `${base}${signInPath}`,
        csrf: sessions.csrfToken(req, res),
        request: request.raw,
        clientId: request.client.clientId,
        ...extra,
      }),
      formTargets: [formTargetOf(request.redirectUri)],
    });
  }

  async function issueCode(
    res: Response,
    request: AuthorizationRequest,
    session: BrowserSessionRecord,
    scope: readonly string[],
  ): Promise<void> {
    const code = await deps.codes.issue({
      client: request.client,
      userId: session.userId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      scope,
      resources: request.resources,
      nonce: request.nonce,
      sessionId: session.sid,
      authTime: session.authTime,
    });
    audit.record('authorization_code.issued', { client_id: request.client.clientId, sub: session.userId });
    seeOther(res, redirectWith(request.redirectUri, { code, state: request.state, iss: issuer }));
  }

  /** What the user can grant of the requested scope: their own scopes, and the OpenID ones. */
  const grantable = (request: AuthorizationRequest, user: UserRecord) =>
    request.scope.filter((scope) => openIdScopes.includes(scope) || user.scopes.includes(scope));

  /** The request with a (possibly) signed-in browser: sign-in page, consent page or the code. */
  async function proceed(
    req: Request,
    res: Response,
    request: AuthorizationRequest,
    session: BrowserSessionRecord | undefined,
    freshSignIn: boolean,
  ): Promise<void> {
    const none = request.prompt.has('none');
    const user = session === undefined ? undefined : await storage.users.findById(session.userId);
    const tooOld =
      session !== undefined &&
      request.maxAgeSeconds !== undefined &&
      clock.now() - session.authTime > request.maxAgeSeconds * 1000;
    const mustSignIn =
      session === undefined ||
      user === undefined ||
      user.disabled ||
      (!freshSignIn && (request.prompt.has('login') || tooOld));
    if (mustSignIn || session === undefined || user === undefined) {
      if (none)
        return redirectError(res, {
          redirectUri: request.redirectUri,
          state: request.state,
          error: 'login_required',
          description: 'the user is not signed in',
        });
      return showSignIn(req, res, request);
    }
    const scope = grantable(request, user);
    if (!request.client.firstParty) {
      const consent = await storage.consents.find(user.id, request.client.clientId);
      const covered = consent !== undefined && scope.every((item) => consent.scope.includes(item));
      if (request.prompt.has('consent') || !covered) {
        if (none)
          return redirectError(res, {
            redirectUri: request.redirectUri,
            state: request.state,
            error: 'consent_required',
            description: 'the user has not allowed this client',
          });
        return sendPage(res, 200, {
          ...consentPage({
            action: `${base}${consentPath}`,
            csrf: sessions.csrfToken(req, res),
            request: request.raw,
            clientId: request.client.clientId,
            username: user.username,
            scope,
          }),
          formTargets: [formTargetOf(request.redirectUri)],
        });
      }
    }
    return issueCode(res, request, session, scope);
  }

  /** The request a form carries, re-validated; undefined once an error page or redirect was sent. */
  async function formRequest(
    req: Request,
    res: Response,
    form: { csrf_token?: string; request?: string },
  ): Promise<AuthorizationRequest | undefined> {
    if (!sessions.csrfValid(req, form.csrf_token)) {
      audit.record('signin.csrf_refused', { path: req.path }, 'warn');
      showError(res, 403, expiredForm);
      return undefined;
    }
    const parsed = await parseAuthorizationRequest(form.request ?? '', deps.clients, deps.targets);
    if (parsed.kind === 'page') showError(res, 400, parsed.message);
    else if (parsed.kind === 'redirect') redirectError(res, parsed.error);
    else return parsed.request;
    return undefined;
  }

  const router = Router();
  const perIp = limitByIp(deps.signInLimiter);
  async function authorize(req: Request, res: Response, raw: string): Promise<void> {
    const parsed = await parseAuthorizationRequest(raw, deps.clients, deps.targets);
    if (parsed.kind === 'page') return showError(res, 400, parsed.message);
    if (parsed.kind === 'redirect') return redirectError(res, parsed.error);
    return proceed(req, res, parsed.request, await sessions.read(req), false);
  }
  router.get(authorizePath, perIp, (req, res) => authorize(req, res, rawQuery(req)));
  // OpenID Connect Core §3.1.2.1: the request may also come as a form post.
  router.post(authorizePath, perIp, createFormParser(), (req, res) => {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(req.body as Record<string, string | string[]>))
      for (const item of [value].flat()) form.append(name, item);
    return authorize(req, res, form.toString());
  });
  router.all(authorizePath, methodNotAllowed(['GET', 'HEAD', 'POST']));

  router.post(signInPath, perIp, createFormParser(), async (req, res) => {
    // Checked field by field: the CSRF token first, and a missing username or password is a
    // wrong one (answered by the sign-in page, after the same work as any other attempt).
    const { values: form } = checkEach(signInForm, formFields(req.body));
    const request = await formRequest(req, res, form);
    if (request === undefined) return;
    const username = form.username ?? '';
    const password = form.password ?? '';
    let user: UserRecord | undefined;
    try {
      // The password grant's protections: bounded hashing, per-username locks, equal-time answers.
      user = await deps.passwordChecks.run(async () => {
        const attempt = await deps.throttle.begin(username);
        const found = await deps.users.authenticate(username, password).catch((error: unknown) => {
          if (error instanceof AppError && error.code === 'invalid_request') return undefined;
          throw error;
        });
        if (found === undefined) {
          attempt.failed();
          audit.record('login.failed', { client_id: request.client.clientId });
          return undefined;
        }
        await attempt.succeeded();
        audit.record('login.succeeded', { client_id: request.client.clientId, user_id: found.id });
        return found;
      });
    } catch (error) {
      if (error instanceof AppError && error.code === 'too_many_requests') {
        for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
        return showSignIn(req, res, request, 429, {
          username,
          error: 'Too many failed attempts. Wait a while and try again.',
        });
      }
      throw error;
    }
    if (user === undefined) return showSignIn(req, res, request, 400, { username, error: wrongCredentials });
    // A new session (and cookie) at every sign-in: no session fixation.
    await sessions.end(req, res);
    const session = await sessions.start(res, user.id);
    return proceed(req, res, request, session, true);
  });
  router.all(signInPath, methodNotAllowed(['POST']));

  router.post(consentPath, perIp, createFormParser(), async (req, res) => {
    const { values: form } = checkEach(consentForm, formFields(req.body));
    const request = await formRequest(req, res, form);
    if (request === undefined) return;
    const session = await sessions.read(req);
    const user = session === undefined ? undefined : await storage.users.findById(session.userId);
    if (session === undefined || user === undefined || user.disabled) return showSignIn(req, res, request);
    // Anything but an explicit allow (a missing or unknown decision) denies.
    if (form.decision !== 'allow') {
      audit.record('consent.denied', { client_id: request.client.clientId, sub: user.id });
      return redirectError(res, {
        redirectUri: request.redirectUri,
        state: request.state,
        error: 'access_denied',
        description: 'the user denied the request',
      });
    }
    const scope = grantable(request, user);
    const previous = await storage.consents.find(user.id, request.client.clientId);
    await storage.consents.upsert({
      userId: user.id,
      clientId: request.client.clientId,
      scope: [...new Set([...(previous?.scope ?? []), ...scope])],
      grantedAt: clock.now(),
    });
    audit.record('consent.granted', { client_id: request.client.clientId, sub: user.id, scope });
    return issueCode(res, request, session, scope);
  });
  router.all(consentPath, methodNotAllowed(['POST']));

  // Errors on these routes are pages, not JSON: a person is reading.
  const pageErrors: ErrorRequestHandler = (error: unknown, _req, res, next) => {
    // A wrong method is answered as everywhere else (JSON, with Allow).
    if (res.headersSent || (error instanceof AppError && error.code === 'method_not_allowed'))
      return next(error);
    const known = error instanceof AppError ? error : deps.translateError?.(error);
    if (known === undefined) {
      deps.logger.error({ err: error }, 'sign-in page failed');
      return showError(res, 500, 'The server could not complete your request.');
    }
    for (const [name, value] of Object.entries(known.headers)) res.setHeader(name, value);
    const message =
      known.code === 'too_many_requests'
        ? 'Too many requests. Wait a moment and try again.'
        : known.code === 'temporarily_unavailable'
          ? 'The service is busy or unavailable. Try again in a moment.'
          : 'The request could not be understood.';
    return showError(res, known.status, message);
  };
  router.use([authorizePath, signInPath, consentPath], pageErrors);
  return router;
}
