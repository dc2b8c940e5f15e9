import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@jest/globals';

/** The repository root. */
export const root = fileURLToPath(new URL('..', import.meta.url));

export type ServiceName = 'auth-server' | 'resource-server';

export interface RunningService {
  port: number;
  url: string;
  /** The metrics listener (METRICS_PORT, loopback): `${metricsUrl}/metrics`. */
  metricsUrl: string;
  /** Every stdout/stderr line so far. */
  output: string[];
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

function entry(service: ServiceName, file: string): string {
  const path = `${root}${service}/dist/src/${file}`;
  if (!existsSync(path))
    throw new Error(`${path} is missing: run \`npm run build\` (npm test does it first)`);
  return path;
}

/**
 * Starts a service from its built entry point, as `npm start -w <service>` does, with only
 * the given environment (plus PATH), and resolves once its 'listening' log line says which
 * ports it bound (PORT=0, METRICS_PORT=0 unless given: services run side by side in tests).
 */
export function startService(service: ServiceName, env: Record<string, string>): Promise<RunningService> {
  return startNodeProcess(service, entry(service, 'main.js'), `${root}${service}`, env);
}

/**
 * Runs `node <script>` in `cwd` like {@link startService} runs a service (any process built on
 * the shared service skeleton logs the same 'listening' line); `name` names it in errors.
 */
export function startNodeProcess(
  name: string,
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<RunningService> {
  const child: ChildProcess = spawn(process.execPath, [script], {
    cwd,
    env: { PATH: process.env.PATH ?? '', PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line);
      if (!line.startsWith('{')) return;
      const record = JSON.parse(line) as { msg?: string; port?: number; metricsPort?: number };
      if (record.msg === 'listening' && typeof record.port === 'number') {
        const port = record.port;
        resolve({
          port,
          url: `http://127.0.0.1:${port}`,
          metricsUrl: `http://127.0.0.1:${record.metricsPort ?? 0}`,
          output,
          stop: () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        lines.filter((line) => line !== '').forEach(onLine);
      });
    }
    void exited.then((code) =>
      reject(new Error(`${name} exited with ${code} before listening:\n${output.join('\n')}`)),
    );
  });
}

/**
 * Runs the admin CLI (built) with an environment and optional stdin. `stderr` is what it tells
 * a person; the audit trail's JSON lines (also on stderr) come apart, parsed, in `audit`.
 */
export function runAdmin(
  args: readonly string[],
  env: Record<string, string>,
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string; audit: Record<string, unknown>[] }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [entry('auth-server', 'cli/main.js'), ...args],
      { cwd: `${root}auth-server`, env: { PATH: process.env.PATH ?? '', ...env } },
      (error, stdout, stderr) => {
        const lines = stderr.split('\n').filter((line) => line !== '');
        resolve({
          code: error === null ? 0 : Number(error.code ?? 1),
          stdout,
          stderr: lines
            .filter((line) => !line.startsWith('{'))
            .map((line) => `${line}\n`)
            .join(''),
          audit: lines
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as Record<string, unknown>),
        });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/** The resource the e2e resource server is (its AUDIENCE), and the scopes it is registered with. */
export const e2eResource = 'http://notes.tessera-e2e.local';
const e2eResourceScopes = 'notes:read notes:write a';

/**
 * A fresh data folder (`tessera-e2e-{name}-…` in the temp folder; the caller removes it) and the
 * environment the two services share (issuer, audience), with the auth server's own on top.
 */
export function createE2eEnvironment(name: string): {
  dataDir: string;
  shared: { ISSUER: string; AUDIENCE: string };
  authEnv: Record<string, string>;
} {
  const dataDir = mkdtempSync(join(tmpdir(), `tessera-e2e-${name}-`));
  const shared = { ISSUER: 'http://tessera-e2e.local', AUDIENCE: e2eResource };
  const authEnv = {
    ...shared,
    DATA_DIR: dataDir,
    KEY_ENCRYPTION_SECRET: 'e2e-secret-e2e-secret-e2e-secret-0123',
  };
  return { dataDir, shared, authEnv };
}

/** Expects an admin CLI run to have succeeded: exit 0 and nothing but audit lines on stderr. */
function expectSucceeded(run: { code: number; stderr: string }): void {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
}

/** Registers a resource with the admin CLI (`resources create`), expecting success. */
export async function registerResource(
  env: Record<string, string>,
  resource: { uri: string; scopes: string; serverClient?: string },
): Promise<void> {
  const server = resource.serverClient === undefined ? [] : ['--server-client', resource.serverClient];
  expectSucceeded(
    await runAdmin(
      ['resources', 'create', '--uri', resource.uri, '--scopes', resource.scopes, ...server],
      env,
    ),
  );
}

/**
 * Registers a confidential client with the admin CLI (`clients create --json`), expects it to
 * succeed, and returns the client's id and its one-time secret. Unless `resources` is given, it
 * may ask for `e2eResource` (registered on first use), its one resource, so it may omit `resource`.
 */
export async function createClient(
  env: Record<string, string>,
  client: { id: string; grants: string; scopes?: string; resources?: string },
): Promise<{ id: string; secret: string }> {
  const scopes = client.scopes === undefined ? [] : ['--scopes', client.scopes];
  if (client.resources === undefined) {
    const list = await runAdmin(['resources', 'list', '--json'], env);
    expectSucceeded(list);
    const registered = (JSON.parse(list.stdout) as { resource: string }[]).some(
      (resource) => resource.resource === e2eResource,
    );
    if (!registered) await registerResource(env, { uri: e2eResource, scopes: e2eResourceScopes });
  }
  const run = await runAdmin(
    [
      'clients',
      'create',
      '--client-id',
      client.id,
      '--grants',
      client.grants,
      ...scopes,
      '--resources',
      client.resources ?? e2eResource,
      '--json',
    ],
    env,
  );
  expectSucceeded(run);
  return { id: client.id, secret: (JSON.parse(run.stdout) as { client_secret: string }).client_secret };
}

/**
 * Creates a user with the admin CLI (`users create --password-stdin`), expects it to succeed,
 * and returns the user's id.
 */
export async function createUser(
  env: Record<string, string>,
  user: { username: string; password: string; scopes?: string },
): Promise<string> {
  const scopes = user.scopes === undefined ? [] : ['--scopes', user.scopes];
  const run = await runAdmin(
    ['users', 'create', '--username', user.username, '--password-stdin', ...scopes],
    env,
    `${user.password}\n`,
  );
  expectSucceeded(run);
  const id = /id ([0-9a-f-]{36})/.exec(run.stdout)?.[1];
  if (id === undefined) throw new Error(`no user id in: ${run.stdout}`);
  return id;
}

/**
 * Calls `check` every `interval` ms (100 by default) until it returns something other than
 * `false` or `undefined`, and resolves to that; throws once `timeout` ms have passed without.
 * How tests wait for something to happen: never a fixed sleep, which a loaded machine outruns
 * and an idle one wastes.
 */
export async function waitFor<T>(
  check: () => T | false | undefined | Promise<T | false | undefined>,
  { timeout, interval = 100, what = 'the condition' }: { timeout: number; interval?: number; what?: string },
): Promise<T> {
  const deadline = performance.now() + timeout;
  for (;;) {
    const result = await check();
    if (result !== false && result !== undefined) return result;
    if (performance.now() >= deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Polls a URL until it answers 200, for at most `timeout` ms. */
export async function waitForReady(url: string, timeout = 10_000): Promise<void> {
  await waitFor(
    () =>
      fetch(url).then(
        (res) => res.ok || undefined,
        () => undefined,
      ),
    { timeout, what: `${url} to answer 200` },
  );
}

/** POSTs a form to an auth-server endpoint, authenticating as a client with client_secret_basic. */
export function postForm(
  url: string,
  client: { id: string; secret: string },
  form: Record<string, string>,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form),
  });
}

/** A TCP port free on 127.0.0.1 right now (for a service whose issuer URL must name its port). */
export function freePort(): Promise<number> {
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
 * Starts the auth server on a fixed free port with ISSUER = its own http://127.0.0.1 URL, as
 * browsers and OpenID Connect clients must see it (discovery checks that the issuer matches).
 */
export async function startAuthServerAtItsIssuer(
  authEnv: Record<string, string>,
): Promise<{ auth: RunningService; env: Record<string, string> }> {
  const port = await freePort();
  const env = { ...authEnv, PORT: String(port), ISSUER: `http://127.0.0.1:${port}` };
  return { auth: await startService('auth-server', env), env };
}
