import { Router, type Request, type Response } from 'express';
import type { z } from 'zod';
import { methodNotAllowed } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import { checkEach, endSessionForm, endSessionRequest } from '../contract.js';
import { formTargetOf, seeOther, sendPage } from '../pages/html.js';
import { confirmSignOutPage, errorPage, signedOutPage } from '../pages/pages.js';
import { redirectWith } from '../signin/authorization-request.js';
import type { IdTokenIssuer } from '../signin/id-token.js';
import type { BrowserSessions } from '../signin/sessions.js';
import type { ClientStore } from '../storage/storage.js';
import { formFields, rawQuery } from './authorize.js';
import { limitByIp, type RequestLimiter } from '../limits/request-limiter.js';
import { createFormParser } from './form.js';

export const endSessionPath = '/oauth/logout';

/**
 * OpenID Connect RP-Initiated Logout 1.0: ends the browser session and sends the browser back to
 * a `post_logout_redirect_uri` registered for the client (exact match; never anywhere else), or
 * shows the signed-out page. Without a valid `id_token_hint` for the signed-in user, the user is
 * asked to confirm (a form with a CSRF token), so a link on another site cannot sign them out.
 */
export function createEndSessionRouter(deps: {
  issuer: string;
  clients: Pick<ClientStore, 'find'>;
  sessions: BrowserSessions;
  idTokens: IdTokenIssuer;
  audit: AuditTrail;
  /** Requests per client IP (shared with the sign-in pages). */
  limiter: RequestLimiter;
}): Router {
  const { sessions, audit } = deps;
  const action = `${new URL(deps.issuer).pathname.replace(/\/$/, '')}${endSessionPath}`;
  const showError = (res: Response, message: string) => sendPage(res, 400, errorPage(message));

  async function handle(
    req: Request,
    res: Response,
    request: Partial<z.output<typeof endSessionRequest>>,
    confirmed: boolean,
  ) {
    const hintToken = request.id_token_hint;
    const hint = hintToken === undefined ? undefined : await deps.idTokens.verifyHint(hintToken);
    if (hintToken !== undefined && hint === undefined)
      return showError(res, 'The sign-out request is not valid (id_token_hint).');
    const hintClient = typeof hint?.aud === 'string' ? hint.aud : undefined;
    const clientId = request.client_id ?? hintClient;
    if (hintClient !== undefined && request.client_id !== undefined && request.client_id !== hintClient)
      return showError(res, 'The sign-out request is not valid (client_id).');
    const redirectUri = request.post_logout_redirect_uri;
    let target: string | undefined;
    if (redirectUri !== undefined) {
      const client = clientId === undefined ? undefined : await deps.clients.find(clientId);
      if (client === undefined || !client.postLogoutRedirectUris.includes(redirectUri))
        return showError(res, 'The address to return to after signing out is not registered.');
      target = redirectWith(redirectUri, { state: request.state });
    }

    const session = await sessions.read(req);
    const hintMatches = hint !== undefined && session !== undefined && hint.sid === session.sid;
    if (session !== undefined && !hintMatches && !confirmed) {
      return sendPage(res, 200, {
        ...confirmSignOutPage({
          action,
          csrf: sessions.csrfToken(req, res),
          fields: request,
        }),
        ...(target === undefined ? {} : { formTargets: [formTargetOf(target)] }),
      });
    }
    const ended = await sessions.end(req, res);
    if (ended !== undefined) audit.record('session.ended', { sub: ended.userId, client_id: clientId });
    if (target !== undefined) return seeOther(res, target);
    return sendPage(res, 200, signedOutPage());
  }

  const router = Router();
  router.get(endSessionPath, limitByIp(deps.limiter), (req, res) => {
    // A repeated parameter's last value counts; an empty one is omitted (RFC 6749 §3.1).
    const params = new Map<string, string>();
    for (const [name, value] of new URLSearchParams(rawQuery(req))) if (value !== '') params.set(name, value);
    return handle(req, res, checkEach(endSessionRequest, params).values, false);
  });
  router.post(endSessionPath, limitByIp(deps.limiter), createFormParser(), (req, res) => {
    const fields = formFields(req.body);
    for (const [name, value] of fields) if (value === '') fields.delete(name);
    const { csrf_token, ...request } = checkEach(endSessionForm, fields).values;
    // A posted form is a confirmation only with this browser's CSRF token.
    return handle(req, res, request, sessions.csrfValid(req, csrf_token));
  });
  router.all(endSessionPath, methodNotAllowed(['GET', 'HEAD', 'POST']));
  return router;
}
