import { mkdirSync } from 'node:fs';
import type { Express } from 'express';
import { systemClock, type Clock, type Logger } from '@tessera/shared';
import { createApp } from './app.js';
import { createCachedClientStore } from './clients/client-cache.js';
import { createClientService, type ClientService } from './clients/clients.js';
import type { AuthConfig } from './config.js';
import { createGrantRegistry } from './grants/index.js';
import { createKeyEncryptionKey } from './keys/encryption.js';
import { loadKeyEncryptionSecret } from './keys/encryption-secret.js';
import { createKeyManager, type KeyManager } from './keys/key-manager.js';
import { openDatabase } from './storage/sql/database.js';
import { migrateToLatest } from './storage/sql/migrations.js';
import { createSqlStorage } from './storage/sql/sql-storage.js';
import type { Storage } from './storage/storage.js';
import { createPasswordHasher } from './users/passwords.js';
import { createAccessTokenIssuer } from './tokens/access-token.js';
import { createUserService, type UserService } from './users/users.js';

export interface Services {
  storage: Storage;
  keys: KeyManager;
  users: UserService;
  clients: ClientService;
  clock: Clock;
}

/**
 * Start-up I/O shared by the server and the admin CLI: open and migrate the store, and
 * wire the domain services. Keys are not loaded here: the server loads them, the CLI only
 * when a command needs them.
 */
export async function loadServices(
  config: AuthConfig,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<Services> {
  mkdirSync(config.dataDir, { recursive: true });
  const db = openDatabase(config.database);
  const storage = createSqlStorage(db);
  try {
    await migrateToLatest(db);
  } catch (error) {
    await storage.close();
    throw error;
  }
  const kek = createKeyEncryptionKey(
    loadKeyEncryptionSecret({ configured: config.keyEncryptionSecret, dataDir: config.dataDir, logger }),
  );
  return {
    storage,
    clock,
    keys: createKeyManager({ keys: storage.keys, kek, clock, logger, modulusLength: config.signingKeySize }),
    users: createUserService({ users: storage.users, hasher: await createPasswordHasher(), clock }),
    // No store round trip per token request for a known client (issue #7).
    clients: createClientService({ clients: createCachedClientStore(storage.clients, { clock }), clock }),
  };
}

/** The HTTP app wired from configuration and loaded services (what main.ts serves and tests call). */
export function createAuthApp(config: AuthConfig, logger: Logger, services: Services): Express {
  return createApp({
    issuer: config.issuer,
    logger,
    storage: services.storage,
    keys: services.keys,
    clients: services.clients,
    grants: createGrantRegistry({ users: services.users }),
    accessTokens: createAccessTokenIssuer({
      keys: services.keys,
      clock: services.clock,
      issuer: config.issuer,
      audience: config.audience,
      ttlSeconds: config.accessTokenTtlSeconds,
    }),
  });
}
