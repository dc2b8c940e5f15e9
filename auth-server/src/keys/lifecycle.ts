import type { KeyState, SigningKeyRecord } from '../storage/storage.js';

/**
 * Signing-key lifecycle decisions, as pure functions of the stored records, the time and the
 * configured durations. The key manager applies what they decide, each step as a
 * compare-and-set in the store, so replicas deciding the same thing at once apply it once.
 *
 *   pending ──(rotation due, published ≥ prepublish)──▶ active ──▶ retiring ──(retiringSeconds)──▶ retired
 *   pending | active | retiring ──(keys compromise)──▶ compromised
 */

/** The configured inputs, in seconds. */
export interface KeyLifecycleSettings {
  /** KEY_ROTATION_INTERVAL: how long a key signs before the next one takes over. */
  rotationIntervalSeconds: number;
  /** KEY_RELOAD_INTERVAL: how soon every replica applies due transitions and sees another's changes. */
  reloadIntervalSeconds: number;
  /** JWKS_MAX_AGE: how long resource servers may cache the JWKS (`Cache-Control: max-age`). */
  jwksMaxAgeSeconds: number;
  /** ACCESS_TOKEN_TTL: the lifetime of every access token (one TTL for all grants, so also the longest). */
  accessTokenTtlSeconds: number;
  /** CLOCK_TOLERANCE: the clock skew resource servers allow on `exp` (RFC 7519 §4.1.4). */
  clockToleranceSeconds: number;
}

/** The settings plus what follows from them. */
export interface KeyDurations extends KeyLifecycleSettings {
  /**
   * How long a pending key is published before it may sign. Another replica starts publishing it
   * within one reload interval; every resource server then refetches within one cache lifetime;
   * one more cache lifetime of margin covers a resource server whose refresh failed once.
   */
  prepublishSeconds: number;
  /**
   * How long a key stays published after it stopped signing. Replicas that have not reloaded yet
   * keep signing with it for up to one reload interval; their tokens live for the TTL, are accepted
   * up to the clock tolerance after `exp`; and a resource server may hold a set one cache lifetime old.
   */
  retiringSeconds: number;
  /**
   * `stale-if-error` on the JWKS (RFC 5861 §4): how long after its max-age a resource server that
   * cannot reach us may keep verifying with the set it holds. Bounded by the same span as a retiring
   * key, so a compromised key is never honoured by a cut-off verifier for longer than that.
   */
  staleIfErrorSeconds: number;
}

export function deriveKeyDurations(settings: KeyLifecycleSettings): KeyDurations {
  const { reloadIntervalSeconds: reload, jwksMaxAgeSeconds: maxAge } = settings;
  const retiringSeconds = reload + settings.accessTokenTtlSeconds + settings.clockToleranceSeconds + maxAge;
  return {
    ...settings,
    prepublishSeconds: reload + 2 * maxAge,
    retiringSeconds,
    staleIfErrorSeconds: retiringSeconds,
  };
}

/**
 * Configurations under which the lifecycle cannot keep its promises, one line per problem,
 * naming the variable to change. Empty when the durations are consistent.
 */
export function checkKeyDurations(durations: KeyDurations): string[] {
  const problems: string[] = [];
  if (durations.rotationIntervalSeconds < durations.prepublishSeconds) {
    problems.push(
      `KEY_ROTATION_INTERVAL: must be at least ${durations.prepublishSeconds}s (KEY_RELOAD_INTERVAL + 2 × JWKS_MAX_AGE), ` +
        'so the next key is published that long before it signs',
    );
  }
  if (durations.reloadIntervalSeconds > durations.jwksMaxAgeSeconds) {
    problems.push(
      'KEY_RELOAD_INTERVAL: must not exceed JWKS_MAX_AGE, or replicas would serve an outdated JWKS longer than it may be cached',
    );
  }
  return problems;
}

/** The JWKS response's caching directives (RFC 9111 §5.2.2.1, RFC 5861 §4). */
export function toJwksCacheControl(durations: KeyDurations): string {
  return `public, max-age=${durations.jwksMaxAgeSeconds}, stale-if-error=${durations.staleIfErrorSeconds}`;
}

export type KeyTransition =
  /** No key signs (a fresh store): a new key becomes active at once. */
  | { kind: 'create-active' }
  /** No key is being published ahead: create the next one. */
  | { kind: 'create-pending' }
  /** `demote` (active) becomes retiring, `promote` (pending) becomes active, a new pending key is made. */
  | { kind: 'rotate'; demote: string; promote: string }
  /** A retiring key has outlived every token it signed: unpublish it and destroy its private part. */
  | { kind: 'retire'; kid: string };

const seconds = (value: number) => value * 1000;

function find(records: readonly SigningKeyRecord[], state: KeyState): SigningKeyRecord | undefined {
  return records.find((record) => record.state === state);
}

/** When a pending key has been published long enough to sign. */
export function readyAt(pending: SigningKeyRecord, durations: KeyDurations): number {
  return pending.createdAt + seconds(durations.prepublishSeconds);
}

/** When the active key is replaced by the pending one: its interval is over and the pending key is ready. */
function rotationAt(active: SigningKeyRecord, pending: SigningKeyRecord, durations: KeyDurations): number {
  const activatedAt = active.activatedAt ?? active.createdAt;
  return Math.max(activatedAt + seconds(durations.rotationIntervalSeconds), readyAt(pending, durations));
}

/** When a retiring key may be unpublished. */
function retireAt(retiring: SigningKeyRecord, durations: KeyDurations): number {
  const since = retiring.retiringAt ?? retiring.activatedAt ?? retiring.createdAt;
  return since + seconds(durations.retiringSeconds);
}

/** Every transition due at `now`, in the order to apply them. */
export function dueTransitions(
  records: readonly SigningKeyRecord[],
  now: number,
  durations: KeyDurations,
): KeyTransition[] {
  const due: KeyTransition[] = [];
  const active = find(records, 'active');
  const pending = find(records, 'pending');
  if (active === undefined) due.push({ kind: 'create-active' });
  if (pending === undefined) due.push({ kind: 'create-pending' });
  if (active !== undefined && pending !== undefined && now >= rotationAt(active, pending, durations)) {
    due.push({ kind: 'rotate', demote: active.kid, promote: pending.kid });
  }
  for (const record of records) {
    if (record.state === 'retiring' && now >= retireAt(record, durations))
      due.push({ kind: 'retire', kid: record.kid });
  }
  return due;
}

/** The next scheduled change of a key's state, or undefined if none is scheduled (for `keys list`). */
export function nextChange(
  record: SigningKeyRecord,
  records: readonly SigningKeyRecord[],
  durations: KeyDurations,
): { state: KeyState; at: number } | undefined {
  const active = find(records, 'active');
  const pending = find(records, 'pending');
  switch (record.state) {
    case 'pending':
      return {
        state: 'active',
        at: active === undefined ? readyAt(record, durations) : rotationAt(active, record, durations),
      };
    case 'active':
      return pending === undefined
        ? undefined
        : { state: 'retiring', at: rotationAt(record, pending, durations) };
    case 'retiring':
      return { state: 'retired', at: retireAt(record, durations) };
    default:
      return undefined;
  }
}

export type RotationPlan =
  { ok: true; demote: string | undefined; promote: string | undefined } | { ok: false; reason: string };

/**
 * What a manual `keys rotate` does now: the pending key becomes active if it has been published
 * long enough; `force` skips that wait (resource servers that have not fetched it yet learn it
 * through their unknown-kid refetch) and, with no pending key at all, activates a fresh one.
 */
export function planRotation(
  records: readonly SigningKeyRecord[],
  now: number,
  durations: KeyDurations,
  force: boolean,
): RotationPlan {
  const active = find(records, 'active');
  const pending = find(records, 'pending');
  if (pending === undefined) {
    return force
      ? { ok: true, demote: active?.kid, promote: undefined }
      : {
          ok: false,
          reason: 'there is no pending key to promote yet; use --force to activate a fresh key now',
        };
  }
  if (!force && now < readyAt(pending, durations)) {
    return {
      ok: false,
      reason:
        `the pending key ${pending.kid} has been published only since ${new Date(pending.createdAt).toISOString()}; ` +
        `resource servers may not hold it before ${new Date(readyAt(pending, durations)).toISOString()} ` +
        '(use --force to rotate anyway)',
    };
  }
  return { ok: true, demote: active?.kid, promote: pending.kid };
}
