import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '@tessera/shared';
import { loadConfig } from '../src/config.js';
import { loadServices } from '../src/app.js';

const main = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));

/** Runs the built server until it exits (a refused start exits at once). */
function start(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\``);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [main],
      { env: { PATH: process.env.PATH ?? '', PORT: '0', METRICS_PORT: '0', ...env }, timeout: 20_000 },
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

  it('the default issuer, no DATABASE_URL and a passphrase for a key: one line each', async () => {
    const run = await start({
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      KEY_ENCRYPTION_SECRET: 'production-secret-production-secret-01',
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      'auth-server: invalid configuration',
      expect.stringMatching(/^ {2}KEY_ENCRYPTION_SECRET: must be 32 random bytes, base64 or hex encoded/),
      expect.stringMatching(/^ {2}ISSUER: required in production \(the default http:\/\/localhost:4000/),
      expect.stringMatching(/^ {2}DATABASE_URL: required in production/),
    ]);
  });

  it('the .env.example PostgreSQL password is refused before any connection is tried', async () => {
    const run = await start({
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      ISSUER: 'https://auth.example',
      KEY_ENCRYPTION_SECRET: randomBytes(32).toString('hex'),
      // Nothing listens on port 1: the refusal must come from the check, not a connection error.
      DATABASE_URL: 'postgres://tessera:change-me-openssl-rand-hex-24@127.0.0.1:1/tessera',
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      'auth-server: invalid configuration',
      expect.stringMatching(
        /^ {2}DATABASE_URL: the PostgreSQL password is still the \.env\.example placeholder/,
      ),
    ]);
  });

  it('a registered public client with the password grant stops the server', async () => {
    const env = {
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      ISSUER: 'https://auth.example',
      KEY_ENCRYPTION_SECRET: randomBytes(32).toString('base64'),
      // A single instance on SQLite, chosen explicitly (unset is refused in production).
      DATABASE_URL: `sqlite:${join(dataDir, 'tessera.db')}`,
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
