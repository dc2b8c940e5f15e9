/** Row shapes as stored: snake_case columns, booleans as 0/1, lists as text, times as epoch ms. */
export interface Tables {
  users: {
    id: string;
    username: string;
    password_hash: string;
    scopes: string;
    disabled: number;
    created_at: number;
  };
  clients: {
    client_id: string;
    secret_digest: string | null;
    is_public: number;
    grants: string;
    scopes: string;
    created_at: number;
    /** JSON array of public JWKs (private_key_jwt clients only). */
    jwks: string | null;
    /** Space-separated (a URI has no space). */
    redirect_uris: string;
    post_logout_redirect_uris: string;
    first_party: number;
  };
  resources: {
    uri: string;
    scopes: string;
    server_client_id: string | null;
    created_at: number;
  };
  /** Which resources each client may ask tokens for. */
  client_resources: {
    client_id: string;
    resource_uri: string;
  };
  signing_keys: {
    kid: string;
    state: string;
    alg: string;
    public_jwk: string;
    private_key_encrypted: string | null;
    created_at: number;
    activated_at: number | null;
    retiring_at: number | null;
    retired_at: number | null;
    compromised_at: number | null;
  };
  refresh_tokens: {
    id: string;
    family_id: string;
    client_id: string;
    user_id: string;
    scope: string;
    /** Space-separated resource identifiers of the grant. */
    resources: string;
    created_at: number;
    expires_at: number;
    idle_expires_at: number;
    consumed_at: number | null;
    successor_id: string | null;
    revoked_at: number | null;
  };
  revocations: {
    kind: string;
    value: string;
    client_id: string | null;
    revoked_at: number;
    expires_at: number;
  };
  login_throttle: {
    key: string;
    failures: number;
    last_failure_at: number;
  };
  client_assertion_jtis: {
    key: string;
    expires_at: number;
  };
  authorization_codes: {
    id: string;
    grant_id: string;
    client_id: string;
    user_id: string;
    redirect_uri: string;
    code_challenge: string;
    scope: string;
    nonce: string | null;
    session_id: string;
    auth_time: number;
    created_at: number;
    expires_at: number;
    consumed_at: number | null;
    /** Space-separated resource identifiers (RFC 8707) the code is for. */
    resources: string;
  };
  browser_sessions: {
    id: string;
    sid: string;
    user_id: string;
    auth_time: number;
    last_seen_at: number;
    idle_expires_at: number;
    expires_at: number;
    ended_at: number | null;
  };
  consents: {
    user_id: string;
    client_id: string;
    scope: string;
    granted_at: number;
  };
}
