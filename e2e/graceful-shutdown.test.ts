import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { createClient, createUser, postForm, startService, waitFor } from './processes.js';

/**
 * SIGTERM during load: the auth server stops accepting, finishes what it accepted, closes its
 * store and exits 0. Every request that reached it gets a complete answer, and every refresh
 * token it handed out (a database write) is in the database afterwards.
 */
describe('end to end: SIGTERM during load', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-shutdown-'));
  const env = {
    ISSUER: 'http://tessera-e2e.local',
    DATA_DIR: dataDir,
    KEY_ENCRYPTION_SECRET: 'e2e-secret-e2e-secret-e2e-secret-0123',
  };
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('no accepted request fails and no write is lost', async () => {
    const auth = await startService('auth-server', env);
    const { secret } = await createClient(env, { id: 'web', grants: 'password,refresh_token', scopes: 'a' });
    await createUser(env, { username: 'erin', password: 'erin-password', scopes: 'a' });

    const answered: { status: number; refreshToken?: string }[] = [];
    const refused: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const res = await postForm(
            `${auth.url}/oauth/token`,
            { id: 'web', secret },
            { grant_type: 'password', username: 'erin', password: 'erin-password' },
          );
          const body = (await res.json()) as { refresh_token?: string };
          answered.push({
            status: res.status,
            ...(body.refresh_token === undefined ? {} : { refreshToken: body.refresh_token }),
          });
        } catch (error) {
          // Not accepted: the listener was closed (ECONNREFUSED) before this request reached it.
          refused.push(String((error as { cause?: { code?: string } }).cause?.code ?? error));
          stop = true;
        }
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    await waitFor(() => answered.length >= 30, { timeout: 10_000, interval: 10, what: '30 answers' });
    const exited = auth.stop();
    await Promise.all(workers);
    expect(await exited).toBe(0);

    expect(answered.length).toBeGreaterThanOrEqual(30);
    expect(answered.filter((a) => a.status !== 200)).toEqual([]);
    // Whatever failed, failed to connect: the server had stopped listening.
    for (const reason of refused) expect(reason).toMatch(/ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET/);
    expect(auth.output.some((line) => line.includes('shutting down'))).toBe(true);

    const db = new Database(join(dataDir, 'tessera.db'), { readonly: true });
    const stored = new Set(
      (db.prepare('select id from refresh_tokens').all() as { id: string }[]).map((row) => row.id),
    );
    db.close();
    const handedOut = answered.map((a) => createHash('sha256').update(a.refreshToken!).digest('hex'));
    expect(handedOut.filter((id) => !stored.has(id))).toEqual([]);
    process.stdout.write(
      `SIGTERM drill: ${answered.length} answered (all 200), ${refused.length} refused at connect\n`,
    );
  }, 30_000);
});
