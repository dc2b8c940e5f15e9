import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '@tessera/shared';
import type { SigningKeyStore } from './storage/storage.js';

/** Everything the audit log records; each is one log line with this `event` field, and counted. */
export type AuditEvent =
  | 'token.issued'
  | 'token.revoked'
  | 'login.succeeded'
  | 'login.failed'
  | 'login.locked'
  | 'refresh.concurrent'
  | 'refresh.reuse_detected'
  | 'key.create-active'
  | 'key.create-pending'
  | 'key.rotate'
  | 'key.retire'
  | 'key.compromise'
  | 'key.reloaded'
  | 'key.reload_failed'
  | 'key.reencrypted'
  | 'user.created'
  | 'user.disabled'
  | 'user.unlocked'
  | 'client.created'
  | 'client.keys_replaced'
  | 'client.resources_replaced'
  | 'resource.created'
  | 'resource.updated'
  | 'resource.deleted'
  | 'client.assertion_replayed'
  | 'client.deleted'
  | 'authorization_code.issued'
  | 'authorization_code.replayed'
  | 'signin.csrf_refused'
  | 'session.ended'
  | 'consent.granted'
  | 'consent.denied'
  | 'consent.revoked';

/**
 * The audit trail: one structured pino line per security-relevant event (its own `event` field;
 * callers never pass secrets, and the logger redacts the usual names anyway) and the Prometheus
 * counters operators watch, fed from the same call so the two cannot disagree.
 */
export interface AuditTrail {
  record(
    event: AuditEvent,
    fields?: Readonly<Record<string, unknown>>,
    level?: 'info' | 'warn' | 'error',
  ): void;
}

export function createAuditTrail(logger: Logger, registry?: Registry): AuditTrail {
  const counters =
    registry === undefined
      ? undefined
      : {
          tokensIssued: new Counter({
            name: 'tessera_tokens_issued_total',
            help: 'Access tokens issued, by grant type',
            labelNames: ['grant_type'] as const,
            registers: [registry],
          }),
          logins: new Counter({
            name: 'tessera_logins_total',
            help: 'Password-grant logins by result (succeeded, failed, locked)',
            labelNames: ['result'] as const,
            registers: [registry],
          }),
          refreshReuse: new Counter({
            name: 'tessera_refresh_reuse_total',
            help: 'Consumed refresh tokens presented again: benign_race (within the grace window) or suspected_theft',
            labelNames: ['kind'] as const,
            registers: [registry],
          }),
          events: new Counter({
            name: 'tessera_audit_events_total',
            help: 'Audit events by name',
            labelNames: ['event'] as const,
            registers: [registry],
          }),
        };
  return {
    record(event, fields = {}, level = 'info') {
      logger[level]({ ...fields, event }, event);
      if (counters === undefined) return;
      counters.events.inc({ event });
      if (event === 'token.issued') counters.tokensIssued.inc({ grant_type: String(fields.grant_type) });
      else if (event.startsWith('login.')) counters.logins.inc({ result: event.slice('login.'.length) });
      else if (event === 'refresh.concurrent') counters.refreshReuse.inc({ kind: 'benign_race' });
      else if (event === 'refresh.reuse_detected') counters.refreshReuse.inc({ kind: 'suspected_theft' });
    },
  };
}

/** Token-endpoint errors by RFC 6749 code, and the signing keys' states and ages (read at scrape time). */
export function registerAuthMetrics(
  registry: Registry,
  keys: SigningKeyStore,
): { tokenErrors: Counter<'error'> } {
  const tokenErrors = new Counter({
    name: 'tessera_token_errors_total',
    help: 'Token endpoint error answers by RFC 6749 error code',
    labelNames: ['error'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'tessera_signing_key_age_seconds',
    help: 'Age of each signing key still in the store, by kid and state',
    labelNames: ['kid', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const now = Date.now();
      for (const key of await keys.list())
        if (key.state !== 'retired')
          this.set({ kid: key.kid, state: key.state }, (now - key.createdAt) / 1000);
    },
  });
  return { tokenErrors };
}
