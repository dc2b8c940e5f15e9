import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@tessera/shared';
import { loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('uses the documented defaults on an empty environment and returns a frozen object', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      port: 4001,
      host: '127.0.0.1',
      metrics: { port: 9465, host: '127.0.0.1' },
      issuer: 'http://localhost:4000',
      audience: 'http://localhost:4001',
      scopesSupported: ['notes:read', 'notes:write'],
      jwksUri: 'http://localhost:4000/.well-known/jwks.json',
      jwksStaleWindowSeconds: 3600,
      jwksMinRefreshSeconds: 30,
      clockToleranceSeconds: 30,
      revocationFeedUri: 'http://localhost:4000/oauth/revocations',
      revocationRefreshSeconds: 15,
      logLevel: 'info',
      production: false,
      corsOrigins: [],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('derives JWKS_URI from ISSUER unless JWKS_URI is set', () => {
    expect(loadConfig({ ISSUER: 'https://auth.example/' }).jwksUri).toBe(
      'https://auth.example/.well-known/jwks.json',
    );
    expect(loadConfig({ ISSUER: 'https://auth.example', JWKS_URI: 'http://auth:4000/keys' }).jwksUri).toBe(
      'http://auth:4000/keys',
    );
  });

  it('reports every bad variable at once, each line naming it', () => {
    let thrown: unknown;
    try {
      loadConfig({ PORT: 'abc', ISSUER: 'ftp://x', JWKS_URI: 'nope', LOG_LEVEL: 'loud' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const names = (thrown as ConfigError).problems.map((line) => line.split(':', 1)[0]);
    expect([...new Set(names)].sort()).toEqual(['ISSUER', 'JWKS_URI', 'LOG_LEVEL', 'PORT']);
  });
});

describe('production mode', () => {
  it('refuses http:// issuer, JWKS and revocation feed URLs other than loopback, one line each', () => {
    let error: unknown;
    try {
      loadConfig({ NODE_ENV: 'production', ISSUER: 'http://auth.example' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'ISSUER: must be https:// in production (http:// only on loopback)',
      "JWKS_URI: must be https:// in production (http:// only on loopback or BACKCHANNEL_URL's origin)",
      "REVOCATION_FEED_URI: must be https:// in production (http:// only on loopback or BACKCHANNEL_URL's origin)",
    ]);
  });

  it('accepts https:// URLs, and http:// on loopback', () => {
    expect(loadConfig({ NODE_ENV: 'production', ISSUER: 'https://auth.example' }).production).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ISSUER: 'http://127.0.0.1:4000' }).jwksUri).toBe(
      'http://127.0.0.1:4000/.well-known/jwks.json',
    );
  });
});

describe('BACKCHANNEL_URL (the auth server on a network the operator declares internal)', () => {
  const production = { NODE_ENV: 'production', ISSUER: 'https://auth.example.com' };

  it('is where the JWKS and the revocation feed are fetched, while the issuer stays public', () => {
    const config = loadConfig({ ...production, BACKCHANNEL_URL: 'http://auth-server:4000/' });
    expect(config.issuer).toBe('https://auth.example.com');
    expect(config.jwksUri).toBe('http://auth-server:4000/.well-known/jwks.json');
    expect(config.revocationFeedUri).toBe('http://auth-server:4000/oauth/revocations');
  });

  it('allows plain http:// in production to its origin only', () => {
    const config = loadConfig({
      ...production,
      BACKCHANNEL_URL: 'http://auth-server:4000',
      JWKS_URI: 'http://auth-server:4000/keys',
    });
    expect(config.jwksUri).toBe('http://auth-server:4000/keys');
    expect(() =>
      loadConfig({
        ...production,
        BACKCHANNEL_URL: 'http://auth-server:4000',
        JWKS_URI: 'http://other:4000/keys',
      }),
    ).toThrow(
      "JWKS_URI: must be https:// in production (http:// only on loopback or BACKCHANNEL_URL's origin)",
    );
    expect(() => loadConfig({ ...production, BACKCHANNEL_URL: 'http://auth-server:4001' })).not.toThrow();
    // Without the declaration, the same internal URLs are refused.
    expect(() => loadConfig({ ...production, JWKS_URI: 'http://auth-server:4000/keys' })).toThrow(
      ConfigError,
    );
  });

  it('never makes an http:// issuer acceptable', () => {
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        ISSUER: 'http://auth-server:4000',
        BACKCHANNEL_URL: 'http://auth-server:4000',
      }),
    ).toThrow('ISSUER: must be https:// in production (http:// only on loopback)');
  });

  it('must be an http(s) URL', () => {
    expect(() => loadConfig({ BACKCHANNEL_URL: 'auth-server:4000' })).toThrow(/^BACKCHANNEL_URL: /);
  });

  it('SCOPES_SUPPORTED: some of the scopes the routes require, nothing else', () => {
    expect(loadConfig({ SCOPES_SUPPORTED: 'notes:read' }).scopesSupported).toEqual(['notes:read']);
    expect(() => loadConfig({ SCOPES_SUPPORTED: 'notes:read admin' })).toThrow(/SCOPES_SUPPORTED.*admin/);
  });
});
