import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Linux clock ticks per second for /proc/<pid>/stat (CLK_TCK; 100 on every Linux we target). */
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Where the servers and the load generator run: one core each when taskset exists. */
export interface Placement {
  taskset: boolean;
  serverCpu: number | undefined;
  loadCpu: number | undefined;
}

/**
 * Pins this process (the load generator, every thread) to one core and returns the core the
 * servers get. With one core or no taskset, nothing is pinned and the report says so.
 */
export function placeProcesses(cpuCount: number): Placement {
  if (!hasTaskset() || cpuCount < 2) return { taskset: false, serverCpu: undefined, loadCpu: undefined };
  const serverCpu = cpuCount - 1;
  const loadCpu = 0;
  execFileSync('taskset', ['-a', '-p', '-c', String(loadCpu), String(process.pid)], { stdio: 'ignore' });
  return { taskset: true, serverCpu, loadCpu };
}

/** A process's own CPU time (user + system, every thread), in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after its closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Peak resident set size (VmHWM) of a process in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kib === undefined ? Number.NaN : Number(kib) / 1024;
}

export interface ServerProcess {
  name: string;
  pid: number;
  url: string;
  output: string[];
  stop(): Promise<void>;
}

/** A port that was free a moment ago (bound to port 0 and released): loopback only, so the race is harmless. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node <script>` on a free port (pinned to `cpu` when given) and resolves once it
 * answers HTTP at all. The port is passed as PORT, so no log line is needed (Tessera logs
 * 'listening' at info, and the benchmark runs it at warn).
 */
export async function startServer(options: {
  name: string;
  script: string;
  args?: readonly string[];
  /** Node.js options before the script (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[];
  env: Record<string, string>;
  cpu: number | undefined;
  cwd?: string;
}): Promise<ServerProcess> {
  const script = `${root}${options.script}`;
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`tsc -b\` first`);
  const port = await freePort();
  const node = [process.execPath, ...(options.nodeArgs ?? []), script, ...(options.args ?? [])];
  // taskset execs node, so the pid we get is the server's own.
  const [command, ...args] =
    options.cpu === undefined ? node : ['taskset', '-c', String(options.cpu), ...node];
  const child = spawn(command as string, args, {
    cwd: options.cwd ?? root,
    // METRICS_PORT=0: Tessera's metrics listener on any free port, never clashing with another server's.
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      ...options.env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      output.push(...chunk.split('\n').filter((line) => line !== ''));
      if (output.length > 200) output.splice(0, output.length - 200);
    });
  }
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  // Up to a minute: the bench starts all its servers at once on one pinned core.
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (exited) throw new Error(`${options.name} exited before listening:\n${output.slice(-20).join('\n')}`);
    const up = await fetch(`${url}/`).then(
      async (response) => {
        await response.body?.cancel();
        return true;
      },
      () => false,
    );
    if (up && child.pid !== undefined) {
      return {
        name: options.name,
        pid: child.pid,
        url,
        output,
        stop: () => {
          if (!exited) child.kill('SIGTERM');
          return exit;
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${options.name} did not answer on ${url}:\n${output.slice(-20).join('\n')}`);
}

/** Runs a built script to completion (pinned when `cpu` is given) and returns its stdout. */
export function runScript(options: {
  script: string;
  args: readonly string[];
  env?: Record<string, string>;
  cpu: number | undefined;
  input?: string;
  cwd?: string;
}): Promise<string> {
  const node = [process.execPath, `${root}${options.script}`, ...options.args];
  const [command, ...args] =
    options.cpu === undefined ? node : ['taskset', '-c', String(options.cpu), ...node];
  return new Promise((resolve, reject) => {
    const child = execFile(
      command as string,
      args,
      {
        cwd: options.cwd ?? root,
        env: { PATH: process.env.PATH ?? '', ...options.env },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${options.script} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}
