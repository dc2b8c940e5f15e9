import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';

/** What the test client saw on one sign-in. */
export interface SignInResult {
  code: string;
  codeVerifier: string;
  callbackUrl: string;
  tokens?: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  userinfo?: oidc.UserInfoResponse;
  error?: string;
}

/**
 * A web app signing its users in, as a user of Tessera would write it with openid-client: `/login`
 * redirects to the authorization endpoint with PKCE, state and nonce; `/callback` exchanges the
 * code (validating state, nonce, iss and the ID token) and reads userinfo. Listens on 127.0.0.1.
 */
export async function startRelyingParty(options: {
  issuer: string;
  clientId: string;
  scope: string;
}): Promise<{ url: string; redirectUri: string; results: SignInResult[]; close(): Promise<void> }> {
  let config: oidc.Configuration | undefined;
  const pending = new Map<string, { codeVerifier: string; nonce: string }>();
  const results: SignInResult[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base);
      config ??= await oidc.discovery(new URL(options.issuer), options.clientId, undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      if (url.pathname === '/login') {
        const codeVerifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const nonce = oidc.randomNonce();
        pending.set(state, { codeVerifier, nonce });
        const target = oidc.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri,
          scope: options.scope,
          code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        res.writeHead(302, { Location: target.href }).end();
        return;
      }
      if (url.pathname === '/callback') {
        const state = url.searchParams.get('state') ?? '';
        const login = pending.get(state);
        pending.delete(state);
        const result: SignInResult = {
          code: url.searchParams.get('code') ?? '',
          codeVerifier: login?.codeVerifier ?? '',
          callbackUrl: url.href,
        };
        results.push(result);
        try {
          if (login === undefined) throw new Error('unknown state');
          result.tokens = await oidc.authorizationCodeGrant(config, url, {
            pkceCodeVerifier: login.codeVerifier,
            expectedState: state,
            expectedNonce: login.nonce,
            idTokenExpected: true,
          });
          const claims = result.tokens.claims()!;
          result.userinfo = await oidc.fetchUserInfo(config, result.tokens.access_token, claims.sub);
          res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
          res.end(
            `<!doctype html><title>Notes</title><h1>Signed in as ${String(result.userinfo.preferred_username)}</h1>`,
          );
        } catch (error) {
          result.error = error instanceof Error ? error.message : String(error);
          res.writeHead(400, { 'Content-Type': 'text/plain' }).end('sign-in failed');
        }
        return;
      }
      res.writeHead(404).end();
    })().catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const redirectUri = `${base}/callback`;
  return {
    url: base,
    redirectUri,
    results,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
