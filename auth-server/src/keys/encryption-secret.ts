import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@tessera/shared';

/**
 * The key-encryption secret: from the environment, or in development a generated one kept
 * in `<dataDir>/key-encryption-secret` (mode 0600), announced with one warning. Production
 * configs without a secret are refused earlier, by loadConfig.
 */
export function loadKeyEncryptionSecret(options: {
  configured: string | undefined;
  dataDir: string;
  logger: Logger;
}): string {
  if (options.configured !== undefined) return options.configured;
  const file = join(options.dataDir, 'key-encryption-secret');
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(options.dataDir, { recursive: true });
    secret = randomBytes(32).toString('base64url');
    // 'wx' fails if another process created it meanwhile; then use theirs.
    try {
      writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
      secret = readFileSync(file, 'utf8').trim();
    }
  }
  options.logger.warn(
    { file },
    'KEY_ENCRYPTION_SECRET is not set: using a development secret kept in the data directory (refused in production)',
  );
  return secret;
}
