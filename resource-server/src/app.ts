import {
  createResourceApp,
  createResourceMetrics,
  type ResourceMetrics,
  type ResourceAppOptions,
  type ResourceConfig,
  type ResourceRouteContext,
} from '@tessera/shared';
import type { Express, RequestHandler } from 'express';
import { openApiDocument } from './openapi.js';
import { createMeRouter } from './routes/me.js';
import { createNotesRouter, notesScopes, type NotesLimits } from './routes/notes.js';

/** The notes API's routes, busiest first. */
export function notesRoutes(limits?: NotesLimits) {
  return ({ requireToken, clock }: ResourceRouteContext): RequestHandler[] => [
    createMeRouter({ requireToken }),
    createNotesRouter({ requireToken, clock, ...(limits === undefined ? {} : { limits }) }),
  ];
}

export interface AppDependencies extends Omit<
  ResourceAppOptions,
  'config' | 'openApi' | 'routes' | 'metrics'
> {
  config: Pick<ResourceConfig, 'issuer' | 'audience'> &
    Partial<Pick<ResourceConfig, 'clockToleranceSeconds' | 'corsOrigins' | 'scopesSupported'>>;
  /** The metrics to count into (a test reads them); else a fresh registry. */
  metrics?: ResourceMetrics;
  /** How many notes the example store keeps (default: 100 per user, 10,000 in all). */
  notesLimits?: NotesLimits;
}

/** The resource server's Express app (for tests; main.ts runs the same through runResourceService). */
export function createApp({
  config,
  notesLimits,
  metrics = createResourceMetrics('resource-server'),
  ...deps
}: AppDependencies): Express {
  return createResourceApp({
    ...deps,
    metrics,
    config: { ...config, scopesSupported: config.scopesSupported ?? notesScopes },
    openApi: openApiDocument,
    routes: notesRoutes(notesLimits),
  });
}
