import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger, createMetricsApp } from '@tessera/shared';
import request from 'supertest';
import { basic, createTestAuth, type TestAuth, testResource } from './helpers.js';

/** What operators watch: /metrics counters and the audit trail, fed from the same events. */
describe('metrics and the audit trail at the auth server', () => {
  let auth: TestAuth;
  let secret: string;
  beforeAll(async () => {
    auth = await createTestAuth({ REFRESH_TOKEN_REUSE_GRACE: '0s' });
    secret = (
      await auth.services.clients.create({
        resources: testResource,
        clientId: 'ops',
        grants: 'client_credentials,password,refresh_token',
        scopes: 'a',
        isPublic: false,
      })
    ).secret!;
    await auth.services.users.create({ username: 'hana', password: 'hana-password', scopes: 'a' });
  });
  afterAll(async () => {
    await auth.close();
  });

  const token = (form: Record<string, string>) =>
    request(auth.app).post('/oauth/token').set('Authorization', basic('ops', secret)).type('form').send(form);
  /** What main.ts serves on METRICS_PORT. */
  const metricsApp = () =>
    createMetricsApp(auth.services.registry, createLogger({ name: 'test', level: 'silent' }));
  const metrics = async () => {
    const res = await request(metricsApp()).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    return res.text;
  };
  const events = () =>
    auth.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => 'event' in record);

  it('serves metrics only on their own listener (METRICS_PORT): the API answers 404 for /metrics, running no collector', async () => {
    const res = await request(auth.app).get('/metrics');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });

  it('counts tokens by grant, errors by code, logins by result and refresh reuse by kind', async () => {
    expect((await token({ grant_type: 'client_credentials' })).status).toBe(200);
    const login = await token({ grant_type: 'password', username: 'hana', password: 'hana-password' });
    expect(login.status).toBe(200);
    expect(
      (await token({ grant_type: 'password', username: 'hana', password: 'wrong-password' })).status,
    ).toBe(400);
    expect((await token({ grant_type: 'nonsense' })).status).toBe(400);
    const rotated = await token({
      grant_type: 'refresh_token',
      refresh_token: login.body.refresh_token as string,
    });
    expect(rotated.status).toBe(200);
    auth.clock.advance(1000);
    // The first refresh token again, after the (zero) grace window: suspected theft.
    expect(
      (await token({ grant_type: 'refresh_token', refresh_token: login.body.refresh_token as string }))
        .status,
    ).toBe(400);

    const text = await metrics();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(series));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect(value('tessera_tokens_issued_total{grant_type="client_credentials"')).toBe(1);
    expect(value('tessera_tokens_issued_total{grant_type="password"')).toBe(1);
    expect(value('tessera_tokens_issued_total{grant_type="refresh_token"')).toBe(1);
    expect(value('tessera_token_errors_total{error="invalid_grant"')).toBe(2);
    expect(value('tessera_token_errors_total{error="unsupported_grant_type"')).toBe(1);
    expect(value('tessera_logins_total{result="succeeded"')).toBe(1);
    expect(value('tessera_logins_total{result="failed"')).toBe(1);
    expect(value('tessera_refresh_reuse_total{kind="suspected_theft"')).toBe(1);
    expect(text).toMatch(
      /^tessera_signing_key_age_seconds\{kid="[^"]+",state="active",service="auth-server"\} \d/m,
    );
    expect(text).toMatch(
      /^http_request_duration_seconds_count\{service="auth-server",method="POST",route="\/oauth\/token",status="200"\} 3$/m,
    );
  });

  it('writes one audit line per event with its own event field, and never a secret', async () => {
    const recorded = events().map((record) => record.event);
    for (const event of ['token.issued', 'login.succeeded', 'login.failed', 'refresh.reuse_detected'])
      expect(recorded).toContain(event);
    const joined = auth.lines.join('\n');
    for (const secretText of [secret, 'hana-password', 'wrong-password'])
      expect(joined).not.toContain(secretText);
  });
});
