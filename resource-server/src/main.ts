import { runResourceService } from '@tessera/shared';
import { notesRoutes } from './app.js';
import { serviceShape } from './config.js';
import { openApiDocument } from './openapi.js';

// The process: the shared resource-service main (config from process.env, JWKS and revocation
// polling, listen, stop) around this service's routes.
runResourceService({
  name: 'resource-server',
  ...serviceShape,
  openApi: openApiDocument,
  routes: notesRoutes(),
});
