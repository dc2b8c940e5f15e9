import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createClient,
  createE2eEnvironment,
  postForm,
  registerResource,
  root,
  startNodeProcess,
  startService,
  waitForReady,
  type RunningService,
} from './processes.js';

const run = promisify(execFile);

/** The example service of shared/README.md: the first js block of its "Example service" section. */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'shared', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Example service'));
  const example = /```js\n([\s\S]*?)\n```/.exec(section)?.[1];
  if (example === undefined) throw new Error('shared/README.md has no js block under "## Example service"');
  return `${example}\n`;
}

/**
 * shared/ as another repository uses it: `npm pack`, the tarball installed into an empty
 * service directory, the README's example service written there verbatim and run as a process
 * against a real auth server. The route must take the auth server's token and refuse others.
 */
describe('the @tessera/shared package, installed elsewhere, runs the README example', () => {
  const { dataDir, shared, authEnv } = createE2eEnvironment('package');
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-e2e-package-service-'));
  const orders = 'http://orders.tessera-e2e.local';
  // npm must not inherit jest's NODE_OPTIONS (--experimental-vm-modules).
  const npmEnv = { ...process.env, NODE_OPTIONS: '' };
  let auth: RunningService;
  let service: RunningService;
  let packed: string[];

  const token = async (client: { id: string; secret: string }) => {
    const res = await postForm(`${auth.url}/oauth/token`, client, { grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const getOrders = (authorization?: string) =>
    fetch(`${service.url}/api/orders`, authorization === undefined ? {} : { headers: { authorization } });

  beforeAll(async () => {
    const [pack] = await Promise.all([
      run('npm', ['pack', '--json', '--pack-destination', scratch], {
        cwd: join(root, 'shared'),
        env: npmEnv,
      }),
      startService('auth-server', authEnv).then((started) => (auth = started)),
    ]);
    const [tarball] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    packed = tarball!.files.map((file) => file.path);
    const app = join(scratch, 'orders');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'orders', private: true, type: 'module' }),
    );
    await run(
      'npm',
      [
        'install',
        join(scratch, tarball!.filename),
        'express@5',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
      ],
      { cwd: app, env: npmEnv },
    );
    writeFileSync(join(app, 'service.mjs'), readmeExample());
    service = await startNodeProcess('the README example', join(app, 'service.mjs'), app, {
      ISSUER: shared.ISSUER,
      AUDIENCE: orders,
      BACKCHANNEL_URL: auth.url,
    });
    await waitForReady(`${service.url}/readyz`);
  }, 240_000);

  afterAll(async () => {
    const codes = await Promise.all([service?.stop(), auth?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
    expect(codes).toEqual([0, 0]);
  });

  it('the tarball holds the built JavaScript with its types and the README, and no tests', () => {
    expect(packed).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts']),
    );
    expect(packed.filter((path) => /(^|\/)test\//.test(path) || path.endsWith('.tsbuildinfo'))).toEqual([]);
  });

  it('takes a token the auth server issued for it, with the scope the route requires', async () => {
    await registerResource(authEnv, { uri: orders, scopes: 'orders:read' });
    const client = await createClient(authEnv, {
      id: 'orders-reader',
      grants: 'client_credentials',
      scopes: 'orders:read',
      resources: orders,
    });
    const res = await getOrders(`Bearer ${await token(client)}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ orders: [], owner: 'orders-reader', client: 'orders-reader' });
  }, 30_000);

  it('refuses no token, a forged one and a real one for another resource', async () => {
    const none = await getOrders();
    expect(none.status).toBe(401);

    const notes = await token(
      await createClient(authEnv, { id: 'notes-reader', grants: 'client_credentials' }),
    );
    const [header, payload, signature] = notes.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, aud: orders, scope: 'orders:read' })).toString(
      'base64url',
    );
    for (const bad of [`${header}.${forged}.${signature}`, notes]) {
      const res = await getOrders(`Bearer ${bad}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  }, 30_000);

  it('answers the skeleton routes: readiness, its OpenAPI document, its RFC 9728 metadata', async () => {
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    const openApi = (await (await fetch(`${service.url}/openapi.json`)).json()) as {
      info: { title: string };
    };
    expect(openApi.info.title).toBe('Orders');
    const metadata = await fetch(`${service.url}/.well-known/oauth-protected-resource`);
    expect(await metadata.json()).toMatchObject({
      resource: orders,
      authorization_servers: [shared.ISSUER],
      scopes_supported: ['orders:read'],
    });
  });
});
