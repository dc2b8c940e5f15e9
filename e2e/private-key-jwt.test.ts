import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { clientAssertion, newKeyPairSync } from '@tessera/shared';
import {
  registerResource,
  e2eResource,
  createE2eEnvironment,
  root,
  runAdmin,
  startService,
  waitForReady,
  type RunningService,
} from './processes.js';

/** A service's key pair, its public half written as the JWKS file the operator registers. */
function serviceKeys(dir: string, kid: string) {
  const { publicKey, privateKey } = newKeyPairSync({ type: 'ec', namedCurve: 'P-256' });
  const jwksFile = join(dir, `${kid}.jwks.json`);
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid }] }));
  return { privateKey, jwksFile, kid };
}

/** Registers a private_key_jwt client with the admin CLI, expecting success. */
async function registerKeyClient(env: Record<string, string>, clientId: string, jwksFile: string) {
  await registerResource(env, { uri: e2eResource, scopes: 'notes:read' });
  const run = await runAdmin(
    [
      'clients',
      'create',
      '--client-id',
      clientId,
      '--grants',
      'client_credentials',
      '--scopes',
      'notes:read',
      '--auth-method',
      'private_key_jwt',
      '--jwks-file',
      jwksFile,
      '--resources',
      e2eResource,
      '--json',
    ],
    env,
  );
  expect({ code: run.code, stderr: run.stderr, stdout: JSON.parse(run.stdout) }).toEqual({
    code: 0,
    stderr: '',
    stdout: { client_id: clientId },
  });
}

/** POSTs a token request whose client authentication is the given assertion parameters. */
function tokenRequest(url: string, params: Record<string, string>): Promise<Response> {
  return fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
  });
}

/**
 * A service that holds a private key, not a shared secret: registered with its public key by the
 * admin CLI, it gets a token from the auth server (a real process) with one `clientAssertion`
 * call and calls the resource server with it.
 */
describe('end to end: a service authenticates with its key (private_key_jwt)', () => {
  const { dataDir, shared, authEnv } = createE2eEnvironment('pkjwt');
  let auth: RunningService;
  let resource: RunningService;
  const billing = serviceKeys(dataDir, 'billing-2026');

  beforeAll(async () => {
    auth = await startService('auth-server', authEnv);
    await registerKeyClient(authEnv, 'billing', billing.jwksFile);
    resource = await startService('resource-server', {
      ...shared,
      JWKS_URI: `${auth.url}/.well-known/jwks.json`,
      REVOCATION_FEED_URI: `${auth.url}/oauth/revocations`,
    });
    await waitForReady(`${resource.url}/readyz`);
  }, 60_000);

  afterAll(async () => {
    const codes = await Promise.all([resource?.stop(), auth?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    expect(codes).toEqual([0, 0]);
  });

  it('gets a token with one clientAssertion call, and the resource server accepts it', async () => {
    const params = await clientAssertion({
      clientId: 'billing',
      issuer: shared.ISSUER,
      privateKey: billing.privateKey,
      kid: billing.kid,
    });
    const res = await tokenRequest(auth.url, { ...params });
    expect(res.status).toBe(200);
    const { access_token: accessToken } = (await res.json()) as { access_token: string };
    const me = await fetch(`${resource.url}/api/me`, { headers: { Authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: 'billing', client_id: 'billing' });
    // The same assertion again is a replay.
    const replay = await tokenRequest(auth.url, { ...params });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('an assertion aimed at the token endpoint URL (not the issuer) is refused', async () => {
    const params = await clientAssertion({
      clientId: 'billing',
      issuer: `${shared.ISSUER}/oauth/token`,
      privateKey: billing.privateKey,
      kid: billing.kid,
    });
    const res = await tokenRequest(auth.url, { ...params });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="tessera"/);
  });

  it('never writes an assertion to the auth server’s log', () => {
    expect(auth.output.join('\n')).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  });
});

const baseUrl = process.env.TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;

/** Runs one statement on the server behind TEST_DATABASE_URL (creating and dropping test databases). */
async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  await client.query(statement).finally(() => client.end());
}

/**
 * Single use across replicas: two auth servers on one PostgreSQL and one Redis (as in
 * docker-compose.yml). An assertion accepted by one is refused by the other, and one sent to both
 * at the same moment is accepted exactly once.
 */
(baseUrl === undefined || redisUrl === undefined ? describe.skip : describe)(
  'end to end: an assertion is accepted once across 2 auth servers on one PostgreSQL and one Redis',
  () => {
    const database = `tessera_e2e_${randomBytes(6).toString('hex')}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-pkjwt-replicas-'));
    const issuer = 'http://tessera-e2e.local';
    const auths: RunningService[] = [];
    const keys = serviceKeys(dataDir, 'reports-1');
    const assertion = () =>
      clientAssertion({ clientId: 'reports', issuer, privateKey: keys.privateKey, kid: keys.kid });

    beforeAll(async () => {
      await admin(`create database ${database}`);
      const url = new URL(baseUrl!);
      url.pathname = `/${database}`;
      const env = {
        ISSUER: issuer,
        AUDIENCE: e2eResource,
        DATA_DIR: dataDir,
        DATABASE_URL: url.toString(),
        KEY_ENCRYPTION_SECRET: 'replica-secret-replica-secret-replica-01',
        REDIS_URL: redisUrl!,
        REDIS_KEY_PREFIX: `${database}:`,
      };
      auths.push(
        ...(await Promise.all([startService('auth-server', env), startService('auth-server', env)])),
      );
      await registerKeyClient(env, 'reports', keys.jwksFile);
    }, 60_000);

    afterAll(async () => {
      await Promise.all(auths.map((service) => service.stop()));
      rmSync(dataDir, { recursive: true, force: true });
      if (baseUrl !== undefined) await admin(`drop database if exists ${database} with (force)`);
    });

    it('accepted by one replica, the same assertion is refused by the other (invalid_client)', async () => {
      const params = await assertion();
      expect((await tokenRequest(auths[0]!.url, { ...params })).status).toBe(200);
      const replay = await tokenRequest(auths[1]!.url, { ...params });
      expect(replay.status).toBe(401);
      expect(await replay.json()).toEqual({
        error: 'invalid_client',
        error_description: 'client assertion already used',
      });
      // A fresh assertion works at either.
      expect((await tokenRequest(auths[1]!.url, { ...(await assertion()) })).status).toBe(200);
    });

    it('sent to both replicas at the same moment, each of 10 assertions is accepted exactly once', async () => {
      for (let round = 0; round < 10; round++) {
        const params = await assertion();
        const statuses = await Promise.all(
          [0, 1, 0, 1].map((i) => tokenRequest(auths[i]!.url, { ...params }).then((res) => res.status)),
        );
        expect(statuses.sort()).toEqual([200, 401, 401, 401]);
      }
    });
  },
);

/** The first fenced code block of each language in one section of a Markdown file (up to its next `##`). */
function sectionBlocks(file: string, heading: string): Record<string, string> {
  const text = `\n${readFileSync(join(root, file), 'utf8')}`;
  const start = text.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`${file} has no section "${heading}"`);
  const end = text.indexOf('\n## ', start + heading.length + 2);
  const section = text.slice(start, end === -1 ? undefined : end);
  const blocks: Record<string, string> = {};
  for (const [, lang, code] of section.matchAll(/```(\w+)\n([\s\S]*?)```/g)) blocks[lang!] ??= code!;
  return blocks;
}

/** A port free on loopback right now (the documented script needs the issuer to be the server's URL). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The private_key_jwt guide (docs/private-key-jwt.md), as an operator and a service developer run it: the shell
 * block (openssl, the JWKS one-liner, `npm run admin`) at the repository root, then the script,
 * verbatim except for the auth server's URL.
 */
describe('end to end: the private_key_jwt guide, run as written', () => {
  const { dataDir, authEnv } = createE2eEnvironment('pkjwt-readme');
  const files = ['billing.key.pem', 'billing.jwks.json', 'billing.mjs'].map((file) => join(root, file));
  let auth: RunningService;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (files.some((file) => existsSync(file)))
      throw new Error(
        `remove ${files.join(', ')} from the repository root first (left from trying docs/private-key-jwt.md?)`,
      );
    const port = await freePort();
    env = { ...authEnv, ISSUER: `http://127.0.0.1:${port}`, PORT: String(port) };
    auth = await startService('auth-server', env);
  }, 30_000);

  afterAll(async () => {
    await auth?.stop();
    for (const file of files) rmSync(file, { force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the shell block registers the key client, and the script prints an access token for it', async () => {
    const blocks = sectionBlocks(
      'docs/private-key-jwt.md',
      '# Services authenticate with keys (private_key_jwt)',
    );
    const shell = spawnSync('bash', ['--norc', '--noprofile', '-eo', 'pipefail', '-c', blocks.sh!], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      encoding: 'utf8',
    });
    expect({
      status: shell.status,
      stderr: shell.stderr.split('\n').filter((line) => !line.startsWith('{') && line !== ''),
    }).toEqual({
      status: 0,
      stderr: [],
    });
    expect(shell.stdout).toContain(
      'private_key_jwt: authenticates with a JWT signed by one of its keys: billing-2026',
    );
    expect(blocks.js).toContain("const issuer = 'http://localhost:4000';");
    writeFileSync(files[2]!, blocks.js!.replace("'http://localhost:4000'", `'${env.ISSUER}'`));
    const script = spawnSync(process.execPath, [files[2]!], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    expect({ status: script.status, stderr: script.stderr }).toEqual({ status: 0, stderr: '' });
    const claims = JSON.parse(
      Buffer.from(script.stdout.trim().split('.')[1] ?? '', 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(claims).toMatchObject({
      sub: 'billing',
      client_id: 'billing',
      scope: 'notes:read',
      iss: env.ISSUER,
    });
  }, 60_000);
});
