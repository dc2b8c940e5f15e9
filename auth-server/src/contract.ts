/**
 * What every auth-server endpoint takes and answers, as zod schemas: the routes and grants check
 * their input with the request schemas (form parameters, after `readParams` has applied RFC 6749
 * §3.1: no repeats, empty means omitted), their answers are typed by the response schemas, and
 * `openapi.ts` generates the served OpenAPI document from both. Write a parameter or a member
 * here once; the document follows.
 */
import { z } from 'zod';
import { errorBody, livenessBody } from '@tessera/shared';

/** Optional form parameters are strings (a form has no other type); required ones are too. */
const text = () => z.string();

// Client authentication (RFC 6749 §2.3, RFC 7523 §2.2), which every form endpoint takes.
const clientAuthentication = {
  client_id: text()
    .optional()
    .meta({
      description:
        'client_secret_post (with client_secret), or a public client identifying itself; ' +
        'with Basic authentication or a client assertion it may only repeat that client id.',
    }),
  client_secret: text()
    .optional()
    .meta({ description: 'client_secret_post (RFC 6749 §2.3.1); never together with a Basic header.' }),
  client_assertion_type: z
    .literal('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    .optional()
    .meta({ description: 'private_key_jwt (RFC 7523 §2.2), with client_assertion.' }),
  client_assertion: text()
    .optional()
    .meta({
      description:
        'private_key_jwt: a JWT signed (RS256 or ES256) with one of the client’s registered keys ' +
        '(`kid` selects it), with `iss` = `sub` = the client id, `aud` = the issuer identifier as ' +
        'a string (not the endpoint URL, not an array), `exp` at most 5 minutes ahead and a ' +
        'single-use `jti`; `typ`, if present, `client-authentication+jwt` or `JWT` ' +
        '(draft-ietf-oauth-rfc7523bis). Never together with a Basic header or client_secret.',
    }),
};
const scope = text()
  .optional()
  .meta({
    description:
      'Space-separated scope values (RFC 6749 §3.3), each understood by a requested resource ' +
      '(else `invalid_scope`); default: what the client (and user) may have at those resources.',
  });
const resource = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .meta({
    description:
      'The resource the token is for (RFC 8707 §2): a registered resource identifier, an absolute ' +
      'URI; repeat the parameter for several. It becomes the token’s `aud`. A client allowed ' +
      'exactly one resource may omit it; otherwise omitting it, or naming one that is unknown or ' +
      'not allowed to the client, is `invalid_target`.',
  });
const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';

// --- POST /oauth/token, one request per grant (the grants check theirs at the edge) ---

export const passwordRequest = z
  .object({
    grant_type: z.literal('password'),
    username: text(),
    password: text(),
    scope,
    resource,
    ...clientAuthentication,
  })
  .meta({ id: 'PasswordGrant', description: 'Resource owner password credentials (RFC 6749 §4.3).' });

export const clientCredentialsRequest = z
  .object({ grant_type: z.literal('client_credentials'), scope, resource, ...clientAuthentication })
  .meta({
    id: 'ClientCredentialsGrant',
    description: 'Client credentials (RFC 6749 §4.4); no refresh token is issued.',
  });

export const refreshTokenRequest = z
  .object({
    grant_type: z.literal('refresh_token'),
    refresh_token: text(),
    scope,
    resource,
    ...clientAuthentication,
  })
  .meta({
    id: 'RefreshTokenGrant',
    description:
      'Refresh (RFC 6749 §6); the scope may be narrowed, never widened. Without `resource` ' +
      'the token is for all of the grant’s resources; `resource` may narrow to some of them ' +
      '(RFC 8707 §2.2), never add one (`invalid_target`).',
  });

export const authorizationCodeRequest = z
  .object({
    grant_type: z.literal('authorization_code'),
    code: text(),
    redirect_uri: text(),
    code_verifier: text().meta({
      description: 'RFC 7636 §4.1: 43 to 128 unreserved characters; another one is `invalid_grant`',
    }),
    resource,
    ...clientAuthentication,
  })
  .meta({
    id: 'AuthorizationCodeGrant',
    description:
      'Authorization code with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5): single use, 60 s, for the ' +
      'client and redirect URI it was issued to; a second use revokes what the first issued.',
  });

export const tokenExchangeRequest = z
  .object({
    grant_type: z.literal('urn:ietf:params:oauth:grant-type:token-exchange'),
    subject_token: text().meta({ description: 'An access token this server issued' }),
    subject_token_type: z.literal(accessTokenType),
    requested_token_type: z.literal(accessTokenType).optional(),
    resource,
    audience: text()
      .optional()
      .meta({
        description:
          'RFC 8693 §2.1: a target named by its resource identifier, checked as `resource` is ' +
          '(`invalid_target` if the client may not ask for it)',
      }),
    scope,
    ...clientAuthentication,
  })
  .meta({
    id: 'TokenExchangeGrant',
    description:
      'Token exchange for delegation (RFC 8693): the authenticated client (the actor, registered ' +
      'for this grant) presents an access token it received as a resource’s server and gets one ' +
      'for another resource it may ask for, on the same user’s behalf. The subject token must ' +
      'be valid, unrevoked and for a resource the client serves (else `invalid_request`, RFC 8693 ' +
      '§2.2.2); the scope never exceeds the subject token’s; the new token has `client_id` = the ' +
      'actor and `act: {sub: actor}` (nested when the subject was itself exchanged, up to ' +
      'TOKEN_EXCHANGE_MAX_DEPTH actors, else `invalid_request`), expires no later than the ' +
      'subject token and comes without a refresh token.',
  });

export const tokenRequest = z
  .discriminatedUnion('grant_type', [
    passwordRequest,
    clientCredentialsRequest,
    refreshTokenRequest,
    authorizationCodeRequest,
    tokenExchangeRequest,
  ])
  .meta({ id: 'TokenRequest', description: 'One of the grants, chosen by `grant_type`.' });

export const tokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.int().min(1).meta({ description: 'Seconds' }),
    scope: z.string(),
    refresh_token: z.string().optional().meta({
      description:
        'Password, authorization_code and refresh_token grants, when the client may use refresh_token.',
    }),
    id_token: z
      .string()
      .optional()
      .meta({
        description:
          'authorization_code with scope `openid`: an OpenID Connect ID token (RS256, `typ: JWT`, ' +
          'aud = the client; never accepted as an access token).',
      }),
    issued_token_type: z
      .literal(accessTokenType)
      .optional()
      .meta({ description: 'Token exchange only (RFC 8693 §2.2.1)' }),
  })
  .meta({
    id: 'TokenResponse',
    description: 'RFC 6749 §5.1; the access token is an RFC 9068 JWT (`typ: at+jwt`, RS256).',
  });

export const tokenError = errorBody([
  'invalid_request',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
]).meta({ id: 'TokenError', description: 'RFC 6749 §5.2, RFC 8707 §2 (invalid_target)' });

// --- POST /oauth/revoke and /oauth/introspect ---

export const tokenReferenceRequest = z
  .object({
    token: text(),
    token_type_hint: text()
      .optional()
      .meta({
        description:
          '`access_token` or `refresh_token`; accepted and not needed (any value: the two formats ' +
          'cannot be confused).',
      }),
    ...clientAuthentication,
  })
  .meta({ id: 'TokenReferenceRequest', description: 'RFC 7009 §2.1 / RFC 7662 §2.1.' });

export const inactiveToken = z.object({ active: z.literal(false) }).meta({
  id: 'InactiveToken',
  description:
    'Unknown, expired, revoked, or not this client’s (an access token whose `aud` names no ' +
    'resource this client is the server of, RFC 7662 §4): nothing more is said.',
});

export const activeAccessToken = z
  .object({
    active: z.literal(true),
    scope: z.string().optional(),
    client_id: z.string(),
    sub: z.string().meta({ description: 'The user id, or the client id for client_credentials' }),
    exp: z.int(),
    iat: z.int(),
    iss: z.string(),
    aud: z.union([z.string(), z.array(z.string())]),
    jti: z.string(),
    act: z
      .looseObject({ sub: z.string() })
      .optional()
      .meta({ description: 'An exchanged token’s actor chain (RFC 8693 §4.1): `sub`, and a nested `act`' }),
    token_type: z.literal('Bearer'),
  })
  .meta({ id: 'ActiveAccessToken' });

export const activeRefreshToken = z
  .object({
    active: z.literal(true),
    scope: z.string(),
    client_id: z.string(),
    sub: z.string(),
    exp: z.int().meta({ description: 'The earlier of the absolute and the idle expiry' }),
    iat: z.int(),
    token_type: z.literal('refresh_token'),
  })
  .meta({ id: 'ActiveRefreshToken' });

export const introspectionResponse = z
  .union([inactiveToken, activeAccessToken, activeRefreshToken])
  .meta({ id: 'IntrospectionResponse', description: 'RFC 7662 §2.2' });

// --- Documents: the revocation feed, the JWKS, the metadata ---

const revocationDigests = z.string().meta({
  id: 'RevocationDigests',
  description: 'Digests of revoked values, 16 base64url characters each, concatenated',
});
const revocationCutOffs = z.record(z.string(), z.int()).meta({
  id: 'RevocationCutOffs',
  description: 'Digest → cut-off (epoch seconds): tokens issued at or before it are refused',
});
export const revocationFeedBody = z
  .object({
    generated_at: z.int().meta({ description: 'Epoch seconds' }),
    key_set: z.string().optional().meta({ description: 'The current JWKS ETag' }),
    revoked: z.object({
      jti: revocationDigests,
      sid: revocationDigests,
      sub: revocationCutOffs,
      client_id: revocationCutOffs,
    }),
  })
  .meta({ id: 'RevocationFeed' });

export const jwkSetBody = z
  .object({
    keys: z.array(
      z
        .object({
          kty: z.literal('RSA'),
          kid: z.string(),
          use: z.literal('sig'),
          alg: z.literal('RS256'),
          n: z.string().meta({ description: 'Modulus, base64url' }),
          e: z.string().meta({ description: 'Exponent, base64url' }),
        })
        .meta({
          id: 'Jwk',
          description: 'An RSA public key (RFC 7517 §4, RFC 7518 §6.3.1); never a private member.',
        }),
    ),
  })
  .meta({ id: 'JwkSet', description: 'RFC 7517 §5' });

const authMethods = z
  .array(z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']))
  .meta({ id: 'AuthMethods' });
const assertionAlgorithms = z.array(z.enum(['RS256', 'ES256'])).meta({
  id: 'AssertionAlgorithms',
  description: 'What private_key_jwt client assertions may be signed with',
});
const uri = () => z.url();
const strings = () => z.array(z.string());
export const serverMetadataBody = z
  .looseObject({
    issuer: uri(),
    token_endpoint: uri(),
    jwks_uri: uri(),
    revocation_endpoint: uri().optional(),
    introspection_endpoint: uri().optional(),
    grant_types_supported: z
      .array(
        z.enum([
          'authorization_code',
          'refresh_token',
          'client_credentials',
          'password',
          'urn:ietf:params:oauth:grant-type:token-exchange',
        ]),
      )
      .optional(),
    authorization_endpoint: uri().optional(),
    response_types_supported: z.array(z.literal('code')),
    response_modes_supported: z.array(z.literal('query')).optional(),
    code_challenge_methods_supported: z.array(z.literal('S256')).optional(),
    authorization_response_iss_parameter_supported: z.literal(true).optional(),
    userinfo_endpoint: uri().optional().meta({ description: 'OpenID Connect only' }),
    end_session_endpoint: uri().optional().meta({ description: 'OpenID Connect only' }),
    scopes_supported: strings().optional(),
    subject_types_supported: strings().optional(),
    id_token_signing_alg_values_supported: strings().optional(),
    claims_supported: strings().optional(),
    prompt_values_supported: strings().optional(),
    request_parameter_supported: z.boolean().optional(),
    request_uri_parameter_supported: z.boolean().optional(),
    claims_parameter_supported: z.boolean().optional(),
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods.optional(),
    introspection_endpoint_auth_methods_supported: authMethods.optional(),
    token_endpoint_auth_signing_alg_values_supported: assertionAlgorithms.optional(),
    revocation_endpoint_auth_signing_alg_values_supported: assertionAlgorithms.optional(),
    introspection_endpoint_auth_signing_alg_values_supported: assertionAlgorithms.optional(),
    access_token_signing_alg_values_supported: z.array(z.literal('RS256')).optional(),
    resource_indicators_supported: z
      .literal(true)
      .optional()
      .meta({
        description:
          'The token endpoint takes the RFC 8707 `resource` parameter (every grant) and ' +
          'answers `invalid_target`; each access token’s `aud` is its resources.',
      }),
  })
  .meta({ id: 'ServerMetadata', description: 'RFC 8414 §2; URLs are absolute, under the issuer.' });

// --- Sign-in (the authorization endpoint and its pages), userinfo, logout ---

/** PKCE `code_challenge` for S256 (RFC 7636 §4.2): BASE64URL(SHA256(code_verifier)), 43 characters. */
export const challengePattern = /^[A-Za-z0-9_-]{43}$/;

/**
 * The authorization request's parameters, in the query (GET) or the form (POST). The endpoint
 * checks them one at a time ({@link checkEach}), in the order RFC 6749 §4.1.2.1 needs: until the
 * client and redirect URI are trusted nothing is redirected.
 */
export const authorizationRequest = z.object({
  response_type: z
    .literal('code')
    .meta({ description: 'Only `code` (another is `unsupported_response_type`)' }),
  client_id: text().meta({ description: 'A client registered for the authorization_code grant' }),
  redirect_uri: text().meta({
    description: 'Exactly one of the client’s registered redirect URIs (string comparison)',
  }),
  response_mode: z.literal('query').optional(),
  scope: text()
    .optional()
    .meta({ description: 'Space-separated; `openid` (and `profile`) for OpenID Connect' }),
  resource: text()
    .optional()
    .meta({ description: 'RFC 8707, repeatable: the resources the tokens are for (bound to the code)' }),
  state: text().optional().meta({ description: 'Returned unchanged' }),
  code_challenge: text().regex(challengePattern).meta({
    description: 'PKCE (RFC 7636): BASE64URL(SHA256(code_verifier)), required of every client',
  }),
  code_challenge_method: z.literal('S256').meta({ description: '`plain` is refused' }),
  nonce: text().optional().meta({ description: 'OpenID Connect: copied into the ID token' }),
  prompt: text()
    .optional()
    .meta({ description: '`none`, `login`, `consent` (OpenID Connect Core §3.1.2.1)' }),
  max_age: text()
    .regex(/^\d{1,9}$/)
    .optional()
    .meta({ description: 'Seconds since sign-in after which the password is asked again' }),
});

const pageForm = {
  csrf_token: text().meta({ description: 'From the page: the form is refused (403) without it' }),
  request: text().meta({ description: 'The authorization request, as the page carries it' }),
};
export const signInForm = z.object({ ...pageForm, username: text(), password: text() });
export const consentForm = z.object({ ...pageForm, decision: z.enum(['allow', 'deny']) });

export const endSessionRequest = z.object({
  id_token_hint: text().optional().meta({ description: 'An ID token we issued (expired is fine)' }),
  client_id: text().optional(),
  post_logout_redirect_uri: text()
    .optional()
    .meta({ description: 'Exactly one of the client’s registered post-logout redirect URIs' }),
  state: text().optional().meta({ description: 'Returned unchanged to post_logout_redirect_uri' }),
});
export const endSessionForm = endSessionRequest.extend({ csrf_token: text().optional() });

/**
 * Each parameter of an object schema checked on its own, for the endpoints that report problems in
 * an order of their own (the authorization endpoint) or answer them with a page rather than an
 * error (the sign-in, consent and sign-out forms): the values that pass, and for each of the others
 * whether it is missing or invalid. Parameters the schema does not name are ignored.
 */
export function checkEach<Shape extends z.ZodRawShape>(
  schema: z.ZodObject<Shape>,
  params: ReadonlyMap<string, string>,
): {
  values: Partial<z.output<z.ZodObject<Shape>>>;
  problems: ReadonlyMap<keyof Shape, 'missing' | 'invalid'>;
} {
  const values: Record<string, unknown> = {};
  const problems = new Map<keyof Shape, 'missing' | 'invalid'>();
  for (const [name, field] of Object.entries(schema.shape)) {
    const result = z.safeParse(field, params.get(name));
    if (!result.success) problems.set(name, params.has(name) ? 'invalid' : 'missing');
    else if (result.data !== undefined) values[name] = result.data;
  }
  return { values: values as Partial<z.output<z.ZodObject<Shape>>>, problems };
}

export const userInfoBody = z
  .object({ sub: z.string(), preferred_username: z.string().optional() })
  .meta({ id: 'UserInfo' });

// --- Probes ---

export { livenessBody };
export const readinessBody = z
  .object({
    status: z.enum(['ready', 'not ready']),
    checks: z.object({
      storage: z.boolean().meta({ description: 'The store answers' }),
      keys: z.boolean().meta({ description: 'An active signing key is loaded' }),
      redis: z
        .boolean()
        .optional()
        .meta({ description: 'The shared Redis answers (only when REDIS_URL is set)' }),
    }),
  })
  .meta({ id: 'Readiness' });
