import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = fileURLToPath(new URL('..', import.meta.url));

export type ServiceName = 'auth-server' | 'resource-server';

export interface RunningService {
  port: number;
  url: string;
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
 * port it bound (PORT=0).
 */
export function startService(service: ServiceName, env: Record<string, string>): Promise<RunningService> {
  const child: ChildProcess = spawn(process.execPath, [entry(service, 'main.js')], {
    cwd: `${root}${service}`,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line);
      if (!line.startsWith('{')) return;
      const record = JSON.parse(line) as { msg?: string; port?: number };
      if (record.msg === 'listening' && typeof record.port === 'number') {
        const port = record.port;
        resolve({
          port,
          url: `http://127.0.0.1:${port}`,
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
      reject(new Error(`${service} exited with ${code} before listening:\n${output.join('\n')}`)),
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

/** Polls a URL until it answers 200, for at most `attempts` tries 100 ms apart. */
export async function waitForReady(url: string, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    const ok = await fetch(url).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} not ready after ${attempts} attempts`);
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
