import { newKeyPairSync } from '@tessera/shared';
import { spawn } from 'node:child_process';

import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createClientAuthenticator } from '../src/clients/client-auth.js';
import { loadConfig } from '../src/config.js';
import { loadServices, type Services } from '../src/app.js';
import { createCapturedLogger } from './helpers.js';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(packageDir, 'dist/src/cli/main.js');
const keyEncryptionSecret = 'cli-test-secret-cli-test-secret-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  /** What the CLI tells a person on stderr (the audit trail's JSON lines set apart). */
  stderr: string;
  /** The audit trail's JSON lines. */
  audit: Record<string, unknown>[];
}

/** Runs the built admin CLI as an operator would: its own process, env only, optional stdin. */
function admin(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: dataDir,
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dataDir,
        KEY_ENCRYPTION_SECRET: keyEncryptionSecret,
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', fail);
    child.on('close', (code) =>
      done({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        ...splitStderr(Buffer.concat(stderr).toString('utf8')),
      }),
    );
    child.stdin.end(options.input ?? '');
  });
}

/** Sets the audit trail's JSON lines apart from the one-line diagnostics a person reads. */
function splitStderr(text: string): { stderr: string; audit: Record<string, unknown>[] } {
  const lines = text.split('\n').filter((line) => line !== '');
  const audit = lines
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const diagnostics = lines.filter((line) => !line.startsWith('{'));
  return { stderr: diagnostics.map((line) => `${line}\n`).join(''), audit };
}

/** Opens the same store the CLI wrote to, as the server would. */
async function withServices<T>(use: (services: Services) => Promise<T>): Promise<T> {
  const config = loadConfig({ DATA_DIR: dataDir, KEY_ENCRYPTION_SECRET: keyEncryptionSecret });
  const services = await loadServices(config, createCapturedLogger().logger);
  try {
    return await use(services);
  } finally {
    await services.storage.close();
  }
}

const stackLine = /^\s+at /m;

function newestMtime(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map(
      (file) => statSync(join(dir, file)).mtimeMs,
    ),
  );
}

let dataDir = '';

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npx tsc -b auth-server\` before this test`);
  // tsc -b rewrites only what changed, but always its build info: src newer than that means stale.
  if (newestMtime(join(packageDir, 'src')) > statSync(join(packageDir, 'dist/tsconfig.tsbuildinfo')).mtimeMs)
    throw new Error(`${cli} is older than auth-server/src: run \`npx tsc -b auth-server\` before this test`);
  dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
});

afterAll(() => {
  if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
});

describe('users create', () => {
  test('with the password on stdin: exit 0, and the user can authenticate with it', async () => {
    const run = await admin(
      ['users', 'create', '--username', 'alice', '--password-stdin', '--scopes', 'notes:read'],
      {
        input: 'stdin-password-123\n',
      },
    );

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^created user alice \(id [0-9a-f-]{36}\)/);
    expect(run.stdout).not.toContain('stdin-password-123');
    // The audit trail records the change, never the password.
    expect(run.audit).toEqual([expect.objectContaining({ event: 'user.created', username: 'alice' })]);
    expect(JSON.stringify(run.audit)).not.toContain('stdin-password-123');

    await withServices(async (services) => {
      const stored = await services.storage.users.findByUsername('alice');
      expect(stored).toMatchObject({ username: 'alice', scopes: ['notes:read'], disabled: false });
      expect(stored?.passwordHash).not.toContain('stdin-password-123');
      // The one trailing newline is not part of the password.
      expect((await services.users.authenticate('alice', 'stdin-password-123'))?.id).toBe(stored?.id);
      expect(await services.users.authenticate('alice', 'stdin-password-123\n')).toBeUndefined();
    });
  });

  test('without --password-stdin: exit 2, a clear message on stderr, no stack, nothing stored', async () => {
    const run = await admin(['users', 'create', '--username', 'bob']);

    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'admin: --password-stdin is required (passwords are never taken from the command line) (see --help)\n',
    );
    expect(run.stderr).not.toMatch(stackLine);
    expect(run.stdout).toBe('');
    await withServices(async (services) => {
      expect(await services.storage.users.findByUsername('bob')).toBeUndefined();
    });
  });

  test('a password too short: exit 1 with one line, no stack', async () => {
    const run = await admin(['users', 'create', '--username', 'carol', '--password-stdin'], {
      input: 'short',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^admin: password must be 8 to 1024 characters\n$/);
  });
});

describe('clients create', () => {
  test('--json prints exactly {client_id, client_secret}, and that secret authenticates', async () => {
    const run = await admin([
      'clients',
      'create',
      '--client-id',
      'svc',
      '--grants',
      'client_credentials',
      '--scopes',
      'notes:read',
      '--json',
    ]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.endsWith('\n')).toBe(true);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
    const printed = JSON.parse(run.stdout) as { client_id: string; client_secret: string };
    expect(Object.keys(printed)).toEqual(['client_id', 'client_secret']);
    expect(printed.client_id).toBe('svc');
    expect(printed.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    await withServices(async (services) => {
      const client = await createClientAuthenticator({
        clients: services.clientStore,
        clock: services.clock,
        issuer: 'http://auth.test',
        clockToleranceSeconds: 30,
        jtis: services.storage.assertionJtis,
      }).authenticate({
        method: 'client_secret_basic',
        clientId: 'svc',
        secret: printed.client_secret,
      });
      expect(client).toMatchObject({
        clientId: 'svc',
        grants: ['client_credentials'],
        scopes: ['notes:read'],
      });
      expect(client.secretDigest).not.toContain(printed.client_secret);
    });
  });

  test('a duplicate client id: exit 1, "already exists" on one stderr line, the original secret still works', async () => {
    const run = await admin(['clients', 'create', '--client-id', 'svc', '--grants', 'password', '--json']);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^admin: .*already exists\n$/);
    expect(run.stdout).toBe('');
    await withServices(async (services) => {
      expect((await services.storage.clients.find('svc'))?.grants).toEqual(['client_credentials']);
    });
  });
});

describe('clients with keys (private_key_jwt)', () => {
  const rsa = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
  const ec = newKeyPairSync({ type: 'ec', namedCurve: 'P-256' });
  const writeJwks = (name: string, keys: unknown[]) => {
    const file = join(dataDir, name);
    writeFileSync(file, JSON.stringify({ keys }));
    return file;
  };

  test('create --auth-method private_key_jwt --jwks-file: exit 0, no secret printed, the public keys stored', async () => {
    const file = writeJwks('keys.json', [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1' }]);
    const run = await admin([
      'clients',
      'create',
      '--client-id',
      'keyed',
      '--grants',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
      '--jwks-file',
      file,
      '--json',
    ]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ client_id: 'keyed' });
    expect(run.audit.find((line) => line.event === 'client.created')).toMatchObject({
      client_id: 'keyed',
      auth_method: 'private_key_jwt',
    });
    await withServices(async (services) => {
      const client = await services.storage.clients.find('keyed');
      expect(client?.secretDigest).toBeNull();
      expect(client?.jwks).toEqual([
        { kty: 'RSA', alg: 'RS256', kid: 'k1', ...rsa.publicKey.export({ format: 'jwk' }) },
      ]);
    });
  }, 30_000);

  test('a JWKS with private members: exit 1, one line naming them, no stack, nothing stored', async () => {
    const file = writeJwks('private.json', [{ ...rsa.privateKey.export({ format: 'jwk' }), kid: 'k1' }]);
    const run = await admin([
      'clients',
      'create',
      '--client-id',
      'leaky',
      '--grants',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
      '--jwks-file',
      file,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'admin: key 1 has private or symmetric members (d, p, q, dp, dq, qi): register only the public key\n',
    );
    expect(run.stdout).toBe('');
    await withServices(async (services) => {
      expect(await services.storage.clients.find('leaky')).toBeUndefined();
    });
  }, 30_000);

  test('mistakes are one line each: exit 2 for no --jwks-file, --jwks-file without the method, an unknown method; exit 1 for a missing or non-JSON file', async () => {
    const base = ['clients', 'create', '--client-id', 'oops', '--grants', 'client_credentials'];
    const notJson = join(dataDir, 'not.json');
    writeFileSync(notJson, 'keys');
    const runs = [];
    for (const args of [
      [...base, '--auth-method', 'private_key_jwt'],
      [...base, '--jwks-file', notJson],
      [...base, '--auth-method', 'client_secret_jwt'],
      [...base, '--auth-method', 'private_key_jwt', '--jwks-file', join(dataDir, 'missing.json')],
      [...base, '--auth-method', 'private_key_jwt', '--jwks-file', notJson],
    ])
      runs.push(await admin(args));
    expect(runs.map((run) => [run.code, run.stderr])).toEqual([
      [2, 'admin: --jwks-file is required (see --help)\n'],
      [2, 'admin: --jwks-file goes with --auth-method private_key_jwt (see --help)\n'],
      [2, 'admin: --auth-method must be client_secret or private_key_jwt (see --help)\n'],
      [1, `admin: cannot read --jwks-file ${join(dataDir, 'missing.json')}: ENOENT\n`],
      [1, `admin: --jwks-file ${notJson} is not JSON\n`],
    ]);
  }, 60_000);

  test('set-keys replaces the keys (rotation by kid); on a secret client it is exit 1 and changes nothing', async () => {
    const file = writeJwks('rotated.json', [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'k2' },
    ]);
    const run = await admin(['clients', 'set-keys', '--client-id', 'keyed', '--jwks-file', file]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^client keyed now authenticates with these keys: k1, k2\n/);
    expect(run.audit.find((line) => line.event === 'client.keys_replaced')).toMatchObject({
      client_id: 'keyed',
      kids: ['k1', 'k2'],
    });
    const refused = await admin(['clients', 'set-keys', '--client-id', 'svc', '--jwks-file', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'admin: client "svc" does not authenticate with private_key_jwt; it has no keys to replace\n',
    );
    await withServices(async (services) => {
      expect((await services.storage.clients.find('keyed'))?.jwks?.map((key) => key.kid)).toEqual([
        'k1',
        'k2',
      ]);
      expect((await services.storage.clients.find('svc'))?.jwks).toBeNull();
    });
  }, 30_000);
});

describe('keys', () => {
  test('list --json, after the server created its keys: the active and the pending key, each with its next change', async () => {
    const kid = await withServices(async (services) => {
      await services.keys.load();
      return services.keys.signingKey().kid;
    });

    const run = await admin(['keys', 'list', '--json']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const keys = JSON.parse(run.stdout) as {
      kid: string;
      state: string;
      created_at: string;
      next_state: string | null;
      next_change_at: string | null;
    }[];
    expect(keys).toHaveLength(2);
    const active = keys.find((key) => key.state === 'active');
    expect(active).toMatchObject({ kid, next_state: 'retiring' });
    expect(keys.find((key) => key.state === 'pending')).toMatchObject({
      next_state: 'active',
      next_change_at: active?.next_change_at,
    });
    expect(new Date(active?.created_at ?? '').toISOString()).toBe(active?.created_at);
    expect(
      new Date(active?.next_change_at ?? '').getTime() - new Date(active?.created_at ?? '').getTime(),
    ).toBe(30 * 86400 * 1000);
    expect(run.stdout).not.toMatch(/private|v1\./);
  });

  test('rotate before the pending key was published long enough: exit 1 with the reason; --force rotates', async () => {
    const refused = await admin(['keys', 'rotate']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^admin: the pending key \S+ has been published only since .*use --force.*\n$/,
    );

    const before = JSON.parse((await admin(['keys', 'list', '--json'])).stdout) as {
      kid: string;
      state: string;
    }[];
    const forced = await admin(['keys', 'rotate', '--force']);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    const pending = before.find((key) => key.state === 'pending')?.kid ?? '';
    const active = before.find((key) => key.state === 'active')?.kid ?? '';
    expect(forced.stdout).toContain(`${pending} is now active; ${active} is retiring`);
  });

  test('two admin processes rotating at the same moment rotate once: one active key, one new pending key', async () => {
    const before = JSON.parse((await admin(['keys', 'list', '--json'])).stdout) as { state: string }[];

    const runs = await Promise.all([
      admin(['keys', 'rotate', '--force']),
      admin(['keys', 'rotate', '--force']),
    ]);

    const after = JSON.parse((await admin(['keys', 'list', '--json'])).stdout) as { state: string }[];
    const count = (keys: { state: string }[], state: string) =>
      keys.filter((key) => key.state === state).length;
    expect(count(after, 'active')).toBe(1);
    expect(count(after, 'pending')).toBe(1);
    // Each successful run added one key; both succeeding one after the other is fine too, racing is not.
    const succeeded = runs.filter((run) => run.code === 0).length;
    expect(succeeded).toBeGreaterThanOrEqual(1);
    expect(after.length - before.length).toBe(succeeded);
    expect(count(after, 'retiring') - count(before, 'retiring')).toBe(succeeded);
    for (const run of runs.filter((run) => run.code !== 0))
      expect(run.stderr).toMatch(/^admin: the keys changed while rotating/);
    // Four admin processes, each starting Node.js and generating an RSA key: about 5 s on a loaded machine.
  }, 30_000);

  test('compromise <kid> on the active key: exit 0, it is unpublished, the published pending key is active and a fresh one pending', async () => {
    const before = JSON.parse((await admin(['keys', 'list', '--json'])).stdout) as {
      kid: string;
      state: string;
    }[];
    const leaked = before.find((key) => key.state === 'active')?.kid ?? '';
    const pending = before.find((key) => key.state === 'pending')?.kid;
    expect(pending).toBeDefined();

    const run = await admin(['keys', 'compromise', leaked]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${leaked} (was active) is unpublished`);
    const after = JSON.parse((await admin(['keys', 'list', '--json'])).stdout) as {
      kid: string;
      state: string;
    }[];
    expect(after.find((key) => key.kid === leaked)?.state).toBe('compromised');
    expect(after.find((key) => key.state === 'active')?.kid).toBe(pending);
    expect(run.stdout).toContain(`${pending} is now active`);
    const next = after.find((key) => key.state === 'pending')?.kid ?? '';
    expect(before.map((key) => key.kid)).not.toContain(next);
  });

  test('compromise of an unknown kid: exit 1; without a kid: exit 2', async () => {
    const unknown = await admin(['keys', 'compromise', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('admin: no published key has kid "nope" (see keys list)\n');
    const missing = await admin(['keys', 'compromise']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^admin: keys compromise takes one kid/);
  });

  test('a kid beginning with "-" (base64url allows it) is taken as the kid, not as an unknown option', async () => {
    const dashed = await admin(['keys', 'compromise', '-P3x']);
    expect(dashed.code).toBe(1);
    expect(dashed.stderr).toBe('admin: no published key has kid "-P3x" (see keys list)\n');
    const withHelp = await admin(['keys', 'compromise', '--help']);
    expect(withHelp.code).toBe(0);
  });
});

describe('errors', () => {
  test('an unknown command: exit 2, the command named on stderr, no stack', async () => {
    const run = await admin(['frobnicate', 'everything']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('admin: unknown command "frobnicate everything" (see --help)\n');
    expect(run.stderr).not.toMatch(stackLine);
  });

  test('an unknown flag: exit 2, no stack', async () => {
    const run = await admin(['users', 'create', '--password', 'on-the-command-line']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^admin: /);
    expect(run.stderr).not.toMatch(stackLine);
  });

  test('an invalid environment (PORT=abc): exit 1, one line naming PORT, no stack', async () => {
    const run = await admin(['keys', 'list'], { env: { PORT: 'abc' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^admin: invalid configuration: PORT: [^\n]+\n$/);
    expect(run.stderr).not.toMatch(stackLine);
    expect(run.stdout).toBe('');
  });
});

describe('clients create for browser sign-in', () => {
  test('--redirect-uris, --post-logout-redirect-uris and --first-party are stored', async () => {
    const run = await admin([
      'clients',
      'create',
      '--client-id',
      'web-signin',
      '--grants',
      'authorization_code,refresh_token',
      '--scopes',
      'notes:read',
      '--public',
      '--first-party',
      '--redirect-uris',
      'https://app.example/cb,http://127.0.0.1:8080/cb',
      '--post-logout-redirect-uris',
      'https://app.example/',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await withServices(async (services) => {
      expect(await services.storage.clients.find('web-signin')).toMatchObject({
        redirectUris: ['https://app.example/cb', 'http://127.0.0.1:8080/cb'],
        postLogoutRedirectUris: ['https://app.example/'],
        firstParty: true,
        isPublic: true,
      });
    });
  });

  test('an http redirect URI off loopback: exit 1, one line naming it', async () => {
    const run = await admin([
      'clients',
      'create',
      '--client-id',
      'web-bad',
      '--grants',
      'authorization_code',
      '--redirect-uris',
      'http://app.example/cb',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^admin: --redirect-uris: http:\/\/app\.example\/cb: http only on 127\.0\.0\.1.*\n$/,
    );
  });

  test('users revoke-consent forgets a remembered consent; a second time says there is none', async () => {
    await withServices(async (services) => {
      const user = await services.users.create({
        username: 'consenting',
        password: 'a long password',
        scopes: '',
      });
      await services.storage.consents.upsert({
        userId: user.id,
        clientId: 'web-signin',
        scope: ['openid'],
        grantedAt: Date.now(),
      });
    });
    const args = ['users', 'revoke-consent', '--username', 'consenting', '--client-id', 'web-signin'];
    const first = await admin(args);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/revoked consenting's consent for web-signin/);
    expect(first.audit).toEqual([
      expect.objectContaining({ event: 'consent.revoked', client_id: 'web-signin' }),
    ]);
    const second = await admin(args);
    expect(second.stdout).toMatch(/no remembered consent/);
    const unknown = await admin(['users', 'revoke-consent', '--username', 'nobody', '--client-id', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('admin: no user "nobody"\n');
  });
});
