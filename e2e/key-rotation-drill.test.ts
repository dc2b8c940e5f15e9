import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  e2eResource,
  createClient,
  runAdmin,
  startService,
  waitFor,
  waitForReady,
  type RunningService,
  postForm,
} from './processes.js';

/**
 * The rotation drill: both services as real processes, with the key lifecycle
 * compressed to seconds through the environment (rotation every 4 s, a pending key published
 * 3 s ahead, reloads and JWKS max-age of 1 s). A client keeps getting tokens and calling the
 * resource server while keys rotate and the auth server restarts: no request may fail. Then the
 * auth server goes away (the resource server verifies from its held set for the stale window,
 * then answers 503), and finally a compromised key's tokens are refused.
 *
 * Waits here are polls of real processes with generous upper bounds, never fixed sleeps that a
 * loaded machine could outrun.
 */

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;

describe('key rotation drill across processes', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-drill-'));
  const shared = { ISSUER: 'http://tessera-drill.local', AUDIENCE: e2eResource, CLOCK_TOLERANCE: '1s' };
  const authEnv = {
    ...shared,
    DATA_DIR: dataDir,
    KEY_ENCRYPTION_SECRET: 'drill-secret-drill-secret-drill-secret-01',
    KEY_ROTATION_INTERVAL: '4s',
    KEY_RELOAD_INTERVAL: '1s',
    JWKS_MAX_AGE: '1s',
    ACCESS_TOKEN_TTL: '30s',
  };
  const staleWindowSeconds = 4;
  let auth: RunningService | undefined;
  let resource: RunningService | undefined;
  let authPort = 0;
  let clientSecret = '';

  /** Starts the auth server on the port it had before, so the resource server's JWKS_URI stays valid. */
  const startAuth = async () => {
    auth = await startService('auth-server', { ...authEnv, PORT: String(authPort) });
    authPort = auth.port;
    return auth;
  };

  async function issueToken(): Promise<string> {
    const res = await postForm(
      `http://127.0.0.1:${authPort}/oauth/token`,
      { id: 'drill', secret: clientSecret },
      { grant_type: 'client_credentials' },
    );
    if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  const callResource = (token: string) =>
    fetch(`${resource?.url ?? ''}/api/me`, { headers: { Authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    await startAuth();
    ({ secret: clientSecret } = await createClient(authEnv, { id: 'drill', grants: 'client_credentials' }));
    resource = await startService('resource-server', {
      ...shared,
      JWKS_URI: `http://127.0.0.1:${authPort}/.well-known/jwks.json`,
      REVOCATION_FEED_URI: `http://127.0.0.1:${authPort}/oauth/revocations`,
      JWKS_MIN_REFRESH: '1s',
      JWKS_STALE_WINDOW: `${staleWindowSeconds}s`,
    });
    await waitForReady(`${resource.url}/readyz`);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([resource?.stop(), auth?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('rotates at least three times and survives an auth-server restart with zero failed requests', async () => {
    const tally = { requests: 0, failed: [] as string[], tokens: 0, tokenWhileDown: 0 };
    const kids = new Set<string>();
    let stopping = false;

    /** One client: a fresh token about every 300 ms (the last one while the auth server restarts), calls in between. */
    const client = async () => {
      let token = await issueToken();
      let issuedAt = Date.now();
      while (!stopping) {
        if (Date.now() - issuedAt > 300) {
          try {
            token = await issueToken();
            issuedAt = Date.now();
            tally.tokens += 1;
          } catch {
            tally.tokenWhileDown += 1; // connection refused during the restart: keep the token we hold
          }
        }
        kids.add(kidOf(token));
        tally.requests += 1;
        const res = await callResource(token);
        if (res.status !== 200) tally.failed.push(`${res.status} ${await res.text()}`);
        else await res.body?.cancel();
        await pause(20);
      }
    };
    const clients = [client(), client()];

    const startedAt = Date.now();
    await waitFor(async () => kids.size >= 3, { timeout: 20_000, what: 'two rotations before the restart' });
    expect(await auth?.stop()).toBe(0);
    await startAuth();
    await waitFor(async () => kids.size >= 5, {
      timeout: 20_000,
      what: 'two more rotations after the restart',
    });
    stopping = true;
    await Promise.all(clients);

    const listed = JSON.parse((await runAdmin(['keys', 'list', '--json'], authEnv)).stdout) as {
      state: string;
      activated_at: string | null;
    }[];
    const rotations = listed.filter((key) => key.activated_at !== null).length - 1;
    process.stdout.write(
      `rotation drill: ${tally.requests} requests, ${tally.failed.length} failed, ${tally.tokens} tokens issued, ` +
        `${rotations} rotations, ${kids.size} signing keys seen, ${Date.now() - startedAt} ms\n`,
    );
    expect(tally.failed).toEqual([]);
    expect(rotations).toBeGreaterThanOrEqual(3);
    expect(listed.filter((key) => key.state === 'active')).toHaveLength(1);
  }, 60_000);

  it('with the auth server gone, valid tokens are accepted for the stale window, then 503 with Retry-After', async () => {
    const token = await issueToken();
    expect((await callResource(token)).status).toBe(200);
    expect(await auth?.stop()).toBe(0);
    const stoppedAt = Date.now();

    // Within max-age (1 s) + stale window (4 s) of the last confirmed fetch, verification goes on.
    while (Date.now() - stoppedAt < 3000) {
      const res = await callResource(token);
      expect(res.status).toBe(200);
      await pause(200);
    }
    let refused: Response | undefined;
    await waitFor(
      async () => {
        refused = await callResource(token);
        return refused.status !== 200;
      },
      { timeout: 15_000, what: '503 once the stale window is over' },
    );
    expect(refused?.status).toBe(503);
    expect(refused?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await refused?.json()) as { error: string }).error).toBe('temporarily_unavailable');
    const ready = await fetch(`${resource?.url ?? ''}/readyz`);
    expect(ready.status).toBe(503);
    expect(
      ((await ready.json()) as { jwks: { age_seconds: number } }).jwks.age_seconds,
    ).toBeGreaterThanOrEqual(staleWindowSeconds);
  }, 30_000);

  it('after keys compromise, tokens signed by that key are refused and a fresh key signs', async () => {
    await startAuth();
    await waitForReady(`${resource?.url ?? ''}/readyz`);
    const leakedToken = await issueToken();
    const leaked = kidOf(leakedToken);
    await waitFor(async () => (await callResource(leakedToken)).status === 200, {
      timeout: 10_000,
      what: 'the leaked key verifies',
    });

    const run = await runAdmin(['keys', 'compromise', leaked], authEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    let refused: Response | undefined;
    await waitFor(
      async () => {
        refused = await callResource(leakedToken);
        return refused.status !== 200;
      },
      { timeout: 10_000, what: 'tokens of the compromised key are refused' },
    );
    expect(refused?.status).toBe(401);
    expect(refused?.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    let fresh = '';
    await waitFor(
      async () => {
        fresh = await issueToken();
        return kidOf(fresh) !== leaked && (await callResource(fresh)).status === 200;
      },
      { timeout: 10_000, what: 'a new token from another key verifies' },
    );
    expect(kidOf(fresh)).not.toBe(leaked);
  }, 30_000);
});
