import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '@tessera/shared';
import { loadConfig } from '../src/config.js';
import { KeyDecryptionError } from '../src/keys/encryption.js';
import { loadServices } from '../src/app.js';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const oldSecret = 'old-secret-old-secret-old-secret-0123456';
const newSecret = 'new-secret-new-secret-new-secret-0123456';

function admin(
  args: string[],
  env: Record<string, string>,
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

/** Loads the key set with a secret; the kids it then publishes, or the error. */
async function loadWith(dataDir: string, secret: string): Promise<string[] | Error> {
  const services = await loadServices(
    loadConfig({ DATA_DIR: dataDir, KEY_ENCRYPTION_SECRET: secret }),
    createLogger({ name: 'test', level: 'silent' }),
  );
  try {
    await services.keys.load();
    return (JSON.parse(services.keys.jwks().body.toString()) as { keys: { kid: string }[] }).keys.map(
      (k) => k.kid,
    );
  } catch (error) {
    return error as Error;
  } finally {
    await services.storage.close();
  }
}

describe('keys reencrypt: rotating KEY_ENCRYPTION_SECRET', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-reencrypt-'));
  let kids: string[];
  beforeAll(async () => {
    kids = (await loadWith(dataDir, oldSecret)) as string[];
    expect(kids.length).toBeGreaterThanOrEqual(1);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('with a wrong old secret: exit 1, one line, and the keys still open with the old secret', async () => {
    const run = await admin(
      ['keys', 'reencrypt', '--old-secret-stdin'],
      { DATA_DIR: dataDir, KEY_ENCRYPTION_SECRET: newSecret },
      'not-the-old-secret\n',
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^admin: signing key \S+ cannot be decrypted with this KEY_ENCRYPTION_SECRET\n$/,
    );
    expect(await loadWith(dataDir, oldSecret)).toEqual(kids);
  });

  it('re-encrypts every key: the same keys then open with the new secret only', async () => {
    const run = await admin(
      ['keys', 'reencrypt', '--old-secret-stdin'],
      { DATA_DIR: dataDir, KEY_ENCRYPTION_SECRET: newSecret },
      `${oldSecret}\n`,
    );
    // Only the audit line (JSON) on stderr, and it holds no secret.
    const lines = run.stderr.split('\n').filter((line) => line !== '');
    expect(lines.map((line) => (JSON.parse(line) as { event: string }).event)).toEqual(['key.reencrypted']);
    expect(run.stderr).not.toContain(oldSecret);
    expect(run.stderr).not.toContain(newSecret);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^re-encrypted \d+ signing keys/);
    expect(await loadWith(dataDir, newSecret)).toEqual(kids);
    expect(await loadWith(dataDir, oldSecret)).toBeInstanceOf(KeyDecryptionError);
  });

  it('refuses to take the old secret from the command line', async () => {
    const run = await admin(
      ['keys', 'reencrypt'],
      { DATA_DIR: dataDir, KEY_ENCRYPTION_SECRET: newSecret },
      '',
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--old-secret-stdin is required');
  });
});
