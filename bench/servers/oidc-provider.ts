/**
 * node-oidc-provider's token endpoint: client_credentials, client_secret_basic, JWT access
 * tokens signed RS256 (the resource-indicators feature decides the format). Its default
 * in-memory adapter; development warnings are left on stdout.
 */
import { newKeyPairSync } from '@tessera/shared';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { listening, port, required } from './listening.js';

const audience = required('AUDIENCE');
const resource = 'https://api.bench.invalid/';
const { privateKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(required('ISSUER'), {
  clients: [
    {
      client_id: required('CLIENT_ID'),
      client_secret: required('CLIENT_SECRET'),
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'notes:read notes:write',
    },
  ],
  jwks: { keys: [jwk] },
  scopes: ['notes:read', 'notes:write'],
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'notes:read notes:write',
        audience,
        accessTokenTTL: 900,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

const handle = provider.callback();
// Koa's callback returns a promise that it settles itself (errors go to its own handler).
const server = createServer((req, res) => void handle(req, res));
server.listen(port(), '127.0.0.1', () => listening(server));
