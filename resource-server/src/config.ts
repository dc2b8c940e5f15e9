import { resourceConfig, type ResourceConfigReader } from '@tessera/shared';
import { notesScopes } from './routes/notes.js';

/** The notes API's ports and scopes; everything else is the shared resource-service configuration. */
export const serviceShape = { port: 4001, metricsPort: 9465, scopes: notesScopes } as const;

const config = resourceConfig(serviceShape);

/** Every environment variable the resource server reads (checked against docker-compose.yml by a test). */
export const configVariables: readonly string[] = config.variables;

/** The variables' schema, for the configuration reference's generator (defaults are read from it). */
export const configSchema = config.schema;

/** What docs/configuration.md says about each variable (`npm run docs:config` writes it). */
export const configDocs: ResourceConfigReader['docs'] = config.docs;

/** Reads the resource server's configuration from an environment (throws a `ConfigError`). */
export const loadConfig = config.load;
