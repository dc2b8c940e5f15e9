import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '@tessera/shared';
import { loadConfig } from '../src/config.js';
import { loadServices } from '../src/services.js';

const main = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));

/** Runs the built server until it exits (a refused start exits at once). */
function start(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\``);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [main],
      { env: { PATH: process.env.PATH ?? '', PORT: '0', ...env }, timeout: 20_000 },
      (error, _stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stderr }),
    );
  });
}

describe('production mode refuses unsafe settings at start, one clear line per problem', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-production-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('no KEY_ENCRYPTION_SECRET and an http:// issuer: both reported, exit 1, no stack', async () => {
    const run = await start({ NODE_ENV: 'production', DATA_DIR: dataDir, ISSUER: 'http://auth.example' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('KEY_ENCRYPTION_SECRET: required in production');
    expect(run.stderr).toContain('ISSUER: must be https:// in production');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('a registered public client with the password grant stops the server', async () => {
    const env = {
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      ISSUER: 'https://auth.example',
      KEY_ENCRYPTION_SECRET: 'production-secret-production-secret-01',
    };
    // Registered while in development mode, then the deployment switches to production.
    const services = await loadServices(
      loadConfig({ ...env, NODE_ENV: 'development' }),
      createLogger({ name: 'test', level: 'silent' }),
    );
    await services.clients.create({ clientId: 'spa', grants: 'password', scopes: 'a', isPublic: true });
    await services.storage.close();
    const run = await start(env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'client spa: a public client with the password grant is refused in production',
    );
  }, 30_000);
});
