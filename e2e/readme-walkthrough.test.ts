// The README's quick start and walkthrough, run verbatim: `npm start` at the repository root (the
// development defaults, with DATA_DIR pointed at a scratch folder so a developer's own
// auth-server/data is left alone and a second run starts clean), then the walkthrough's blocks
// pasted into one shell, as the README tells a reader to, with its fixed ports 4000 and 4001.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { root, waitForReady } from './processes.js';
import { runShellBlocks, shellBlocks } from './walkthrough.js';

const readme = readFileSync(`${root}README.md`, 'utf8');
const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Walkthrough'));
const section = readme.slice(readme.indexOf('## Walkthrough'), readme.indexOf('## One audience per service'));
const blocks = shellBlocks(section);

/** Whether something already listens on the port (the walkthrough's ports are fixed). */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(true));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

let scratch: string;
let system: ChildProcess | undefined;
let systemOutput = '';
const tokensFile = `${root}tokens.json`;
let tokensFileWasThere = false;
let status: number | null = null;
let stderr = '';
let outputs: string[] = [];

beforeAll(async () => {
  for (const port of [4000, 4001])
    if (await portTaken(port))
      throw new Error(`port ${port} is in use: the README's walkthrough needs it free`);
  scratch = mkdtempSync(join(tmpdir(), 'tessera-readme-'));
  tokensFileWasThere = existsSync(tokensFile);
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: join(scratch, 'data') };
  // A reader's shell has neither jest's Node.js flags nor its NODE_ENV=test.
  delete env.NODE_OPTIONS;
  delete env.NODE_ENV;
  // Its own process group, so that stopping it reaches npm, start-all.js and both services.
  system = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  system.stdout!.on('data', (chunk: Buffer) => (systemOutput += chunk.toString()));
  system.stderr!.on('data', (chunk: Buffer) => (systemOutput += chunk.toString()));
  try {
    await waitForReady('http://localhost:4000/readyz', 90_000);
    await waitForReady('http://localhost:4001/readyz', 30_000);
  } catch (error) {
    throw new Error(`npm start did not get ready: ${String(error)}\n${systemOutput.slice(-4000)}`, {
      cause: error,
    });
  }

  ({ status, stderr, outputs } = runShellBlocks(blocks, { cwd: root, env, timeout: 3 * 60_000 }));
}, 180_000);

afterAll(async () => {
  if (system?.pid !== undefined && system.exitCode === null) {
    const exited = new Promise((resolve) => system!.once('exit', resolve));
    process.kill(-system.pid, 'SIGTERM');
    await exited;
  }
  if (!tokensFileWasThere) rmSync(tokensFile, { force: true });
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
}, 30_000);

/**
 * The JSON objects a block printed, in order. curl prints no newline after a body, so one line can
 * hold several: each object is found by its braces, outside strings.
 */
function jsonDocuments(output: string | undefined): Record<string, unknown>[] {
  const text = output ?? '';
  const documents: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index += 1;
      else if (char === '"') inString = false;
    } else if (char === '"' && depth > 0) inString = true;
    else if (char === '{') {
      if (depth === 0) start = index;
      depth += 1;
    } else if (char === '}' && depth > 0) {
      depth -= 1;
      if (depth === 0) documents.push(JSON.parse(text.slice(start, index + 1)) as Record<string, unknown>);
    }
  }
  return documents;
}

describe("the README's quick start and walkthrough, verbatim", () => {
  it('the quick start is `npm install` then `npm start`, and the walkthrough has its five blocks', () => {
    expect(shellBlocks(quickStart)).toEqual(['npm install\nnpm start\n']);
    expect(blocks.length).toBe(5);
  });

  it('runs every block to the end', () => {
    if (status !== 0) console.error(stderr);
    expect(status).toBe(0);
    expect(outputs.length).toBe(blocks.length);
  });

  it('issues a client_credentials token for the example API', () => {
    const [answer] = jsonDocuments(outputs[1]);
    expect(answer).toMatchObject({ token_type: 'Bearer', scope: 'notes:read' });
    expect(typeof answer?.access_token).toBe('string');
  });

  it("calls the protected API with alice's token, and writes and reads a note", () => {
    const [me, written, list] = jsonDocuments(outputs[2]);
    expect(me).toMatchObject({ client_id: 'demo', aud: 'http://localhost:4001' });
    expect(String(me?.scope).split(' ').sort()).toEqual(['notes:read', 'notes:write']);
    expect(written).toMatchObject({ text: 'hello' });
    expect(list).toMatchObject({ notes: [expect.objectContaining({ text: 'hello' })] });
  });

  it('refuses the tampered token with 401 and an RFC 6750 challenge', () => {
    const lines = outputs[3]!.trim().split(/\r?\n/);
    expect(lines[0]).toMatch(/^HTTP\/1\.1 401/);
    expect(lines[1]).toMatch(/^www-authenticate: Bearer .*error="invalid_token"/i);
  });

  it('refreshes, introspects the new access token as active, and revokes the new refresh token', () => {
    const output = outputs[4]!;
    const [introspection] = jsonDocuments(output);
    expect(introspection).toMatchObject({ active: true, client_id: 'demo', token_type: 'Bearer' });
    // Revocation answers 200 with an empty body (RFC 7009 §2.2): nothing follows the introspection.
    expect(output.trimEnd().endsWith('}')).toBe(true);
    expect(jsonDocuments(output)).toHaveLength(1);
  });
});
