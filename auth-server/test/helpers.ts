import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import { createFixedClock, createLogger, type Logger } from '@tessera/shared';
import { loadConfig, type AuthConfig } from '../src/config.js';
import { createAuthApp, loadServices, type Services } from '../src/services.js';

/** A logger whose lines are kept in memory, to assert on what was (and was not) logged. */
export function createCapturedLogger(level: 'debug' | 'info' = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level, destination }), lines };
}

export interface TestAuth {
  app: Express;
  config: AuthConfig;
  services: Services;
  clock: ReturnType<typeof createFixedClock>;
  lines: string[];
  dataDir: string;
  close(): Promise<void>;
}

/**
 * A real auth server app on a fresh SQLite file in a temp folder, with a fixed clock
 * (set to the real time, so jose-verified tokens are current) and captured logs.
 */
export async function createTestAuth(env: Record<string, string> = {}): Promise<TestAuth> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    KEY_ENCRYPTION_SECRET: 'test-secret-test-secret-test-secret-0123',
    ISSUER: 'http://auth.test',
    ...env,
  });
  const { logger, lines } = createCapturedLogger('debug');
  const clock = createFixedClock(Date.now());
  const services = await loadServices(config, logger, clock);
  await services.keys.load();
  return {
    app: createAuthApp(config, logger, services),
    config,
    services,
    clock,
    lines,
    dataDir,
    async close() {
      await services.storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}
