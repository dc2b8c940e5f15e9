// The compose walkthrough of docs/deployment.md, run verbatim against the real stack: `npm run test:compose`
// (scripts/test-compose.sh) brings the stack up first and removes it afterwards. Not part of
// `npm test`, which needs no Docker engine (jest.config.js leaves this file out).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { root } from './processes.js';
import { runShellBlocks, shellBlocks, type WalkthroughRun } from './walkthrough.js';

const guide = readFileSync(`${root}docs/deployment.md`, 'utf8');
const section = guide.slice(guide.indexOf('**3. Walkthrough.**'), guide.indexOf('**How it fits together.**'));
const blocks = shellBlocks(section);

/** Runs the blocks in one shell, as a reader pasting them would, in the repository root (stdin is
 * /dev/null: the blocks pipe their own input into `docker-compose exec -T`). */
const runWalkthrough = (): WalkthroughRun => runShellBlocks(blocks, { cwd: root, timeout: 8 * 60_000 });

/** The JSON documents among a block's output lines. */
const jsonLines = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

const issuer = process.env.ISSUER;

describe("docs/deployment.md's compose walkthrough against the running stack", () => {
  it('finds the walkthrough blocks', () => {
    expect(blocks.length).toBe(4);
    expect(issuer).toBeDefined();
  });

  let run: WalkthroughRun = { status: null, stderr: '', outputs: [] };
  beforeAll(() => {
    run = runWalkthrough();
  }, 9 * 60_000);

  it('runs every block to the end', () => {
    if (run.status !== 0) console.error(run.stderr);
    expect(run.outputs.length).toBe(blocks.length);
    expect(run.status).toBe(0);
  });

  it('verifies a token from the edge at the resource server, with the public issuer', () => {
    const [claims] = jsonLines(run.outputs[1] ?? '');
    expect(claims).toMatchObject({ iss: issuer, client_id: 'demo' });
  });

  it('refuses the tampered token with 401 and an RFC 6750 challenge', () => {
    expect(run.outputs[1]).toMatch(/^HTTP\/[\d.]+ 401/m);
    expect(run.outputs[1]).toMatch(/^www-authenticate: Bearer .*error="invalid_token"/im);
  });

  it('accepts a token signed with the key that `keys rotate --force` activated', () => {
    const [claims] = jsonLines(run.outputs[2] ?? '');
    expect(claims).toMatchObject({ iss: issuer, client_id: 'demo' });
  });

  it('keeps issuing tokens with one replica stopped, and verifying after a resource-server restart', () => {
    const output = run.outputs[3] ?? '';
    expect(output.split('\n').filter((line) => line === '200')).toHaveLength(4);
    expect(jsonLines(output)[0]).toMatchObject({ iss: issuer, client_id: 'demo' });
  });

  it('terminates TLS with the certificate the operator provides (EDGE_MODE=https)', () => {
    // The edge alone is recreated in https mode, with a self-signed certificate for localhost.
    const tls = mkdtempSync(join(tmpdir(), 'tessera-tls-'));
    const port = new URL(issuer!).port;
    const script = `
      set -euo pipefail
      . scripts/compose-lib.sh
      openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost -keyout "$EDGE_TLS_DIR/privkey.pem" \
        -out "$EDGE_TLS_DIR/fullchain.pem" 2>/dev/null
      compose up -d --no-deps edge 2>/dev/null
      wait_healthy 120
      curl -sf --cacert "$EDGE_TLS_DIR/fullchain.pem" https://localhost:${port}/.well-known/jwks.json
      echo
      curl -s -o /dev/null -w '%{http_code}\n' http://localhost:${port}/.well-known/jwks.json`;
    const result = spawnSync('bash', ['-c', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, EDGE_MODE: 'https', EDGE_TLS_DIR: tls },
      timeout: 3 * 60_000,
    });
    if (result.status !== 0) console.error(result.stderr);
    expect(result.status).toBe(0);
    const [jwks, plain] = result.stdout.trim().split('\n');
    expect((JSON.parse(jwks!) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    // Plain HTTP to the TLS port is refused (nginx answers 400 to it).
    expect(plain).toBe('400');
  });

  it('balanced the tokens across both replicas', () => {
    // Each replica's audit trail: `token.issued` lines prove it served some of the requests.
    for (const replica of ['auth-server-1', 'auth-server-2']) {
      const logs = spawnSync(
        'bash',
        ['-c', `. scripts/compose-lib.sh && compose logs --no-color ${replica}`],
        {
          cwd: root,
          encoding: 'utf8',
        },
      );
      expect(logs.stdout).toMatch(/"event":"token.issued"/);
    }
  });
});
