import { spread, type Spread } from './stats.js';

/** A speed target: this scenario's rate per server CPU-second, against a baseline's, from the same run. */
export interface TargetResult {
  baseline: string;
  /** The scenario's own threshold; absent when it is only paired (judged in {@link judgeTargets}). */
  minimumRatio?: number;
  /** Median of the per-round ratios (each round pairs the scenario with the baseline measured just before it). */
  ratio: Spread;
  /** The per-round ratios, in round order. */
  perRound: number[];
  /** An extra condition (e.g. "/healthz p99 < 50 ms"), with its measured value. */
  extra?: { label: string; met: boolean };
  met: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  group: string;
  /** Why it did not run, when it did not. */
  skipped?: string;
  rounds: number;
  wallRate?: Spread;
  cpuRate?: Spread;
  p50Ms?: number;
  p99Ms?: number;
  probeP99Ms?: number;
  peakRssMiB?: number;
  failures: number;
  /** Informational comparison (no target): the ratio per CPU-second against a baseline. */
  versus?: { baseline: string; ratio: Spread; perRound: number[] };
  target?: TargetResult;
}

export interface BenchReport {
  startedAt: string;
  mode: 'full' | 'smoke';
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    platform: string;
    pinned: string;
    loadAverage: string;
  };
  settings: { rounds: number; seconds: number; connections: number; tokenPool: number; logLevel: string };
  scenarios: ScenarioResult[];
  /** The targets judged from this run's figures (none in a smoke run). */
  verdicts?: Verdict[];
  notes: string[];
}

/**
 * A target judged from one run: `scenario`'s per-round ratio to its baseline, divided, round by
 * round, by `over`'s ratio to the same baseline when `over` is given (a floor, a peer), else
 * taken as it is; the median of those must reach `minimum`.
 */
export interface TargetDefinition {
  label: string;
  scenario: string;
  over?: string;
  minimum: number;
  /** And the scenario's /healthz probe p99 under this many ms. */
  probeP99BelowMs?: number;
}

/** The targets `npm run bench` judges (per server CPU-second, same-round ratios). */
export const targets: readonly TargetDefinition[] = [
  {
    label: '/api/me, a fresh token every request, vs its floor',
    scenario: 'tessera-rs-fresh',
    over: 'floor-verify-fresh',
    minimum: 0.85,
  },
  {
    label: 'token endpoint, client_credentials, vs its floor',
    scenario: 'tessera-token-cc',
    over: 'floor-sign',
    minimum: 0.9,
  },
  {
    label: 'token endpoint, client_credentials, vs node-oidc-provider',
    scenario: 'tessera-token-cc',
    over: 'oidc-token-cc',
    minimum: 1.1,
  },
  {
    label: 'password grant, vs its floor',
    scenario: 'tessera-token-password',
    over: 'floor-password',
    minimum: 0.95,
    probeP99BelowMs: 50,
  },
  { label: 'refresh_token grant (rotating), vs raw sign', scenario: 'tessera-token-refresh', minimum: 0.45 },
  { label: '/api/me, one token repeated, vs bare Express', scenario: 'tessera-rs-repeated', minimum: 0.85 },
  {
    label: 'client_credentials on PostgreSQL + Redis, vs SQLite',
    scenario: 'tessera-pg-token-cc',
    minimum: 0.85,
  },
];

export interface Verdict {
  label: string;
  minimum: number;
  /** Median (min–max) over the rounds; absent when a scenario it needs did not run. */
  ratio?: Spread;
  probeP99Ms?: number;
  /** Absent when it could not be judged. */
  met?: boolean;
  /** Why it could not be judged, or what it was measured against. */
  note: string;
}

function roundRatios(
  result: ScenarioResult | undefined,
): { baseline: string; perRound: number[] } | undefined {
  if (result === undefined || result.skipped !== undefined) return undefined;
  return result.target ?? result.versus;
}

/** Judges every one of `definitions` from the scenarios of one run. */
export function judgeTargets(
  scenarios: readonly ScenarioResult[],
  definitions: readonly TargetDefinition[] = targets,
): Verdict[] {
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  return definitions.map((definition) => {
    const { label, minimum } = definition;
    const mine = roundRatios(byId.get(definition.scenario));
    if (mine === undefined) return { label, minimum, note: `${definition.scenario} did not run` };
    let perRound = mine.perRound;
    let note = `${definition.scenario} vs ${mine.baseline}`;
    if (definition.over !== undefined) {
      const theirs = roundRatios(byId.get(definition.over));
      if (theirs === undefined) return { label, minimum, note: `${definition.over} did not run` };
      if (theirs.baseline !== mine.baseline || theirs.perRound.length !== perRound.length)
        return {
          label,
          minimum,
          note: `${definition.over} is not measured against ${mine.baseline} in every round`,
        };
      perRound = perRound.map((ratio, i) => ratio / (theirs.perRound[i] as number));
      note = `${definition.scenario} over ${definition.over}, each vs ${mine.baseline} in the same round`;
    }
    const ratio = spread(perRound);
    const probeP99Ms = byId.get(definition.scenario)?.probeP99Ms;
    const probeMet =
      definition.probeP99BelowMs === undefined || (probeP99Ms ?? Infinity) < definition.probeP99BelowMs;
    if (definition.probeP99BelowMs !== undefined)
      note += `; /healthz p99 ${fmt(probeP99Ms, 1)} ms, must be < ${definition.probeP99BelowMs} ms`;
    return {
      label,
      minimum,
      ratio,
      ...(probeP99Ms === undefined ? {} : { probeP99Ms }),
      met: ratio.median >= minimum && probeMet,
      note,
    };
  });
}

function verdictLine(verdict: Verdict): string {
  const outcome = verdict.met === undefined ? 'not judged' : verdict.met ? 'pass' : 'miss';
  const figure = verdict.ratio === undefined ? '' : ` ${fmtRatio(verdict.ratio)},`;
  return `- **${outcome}**: ${verdict.label}:${figure} target ≥ ${verdict.minimum}× (${verdict.note})`;
}

function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtRate(rate: Spread | undefined): string {
  if (rate === undefined) return '–';
  const digits = rate.median < 100 ? 1 : 0;
  return `${fmt(rate.median, digits)} (${fmt(rate.min, digits)}–${fmt(rate.max, digits)})`;
}

function fmtRatio(ratio: Spread): string {
  return `${ratio.median.toFixed(2)}× (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)})`;
}

function targetCell(result: ScenarioResult): string {
  const { target, versus } = result;
  if (target?.minimumRatio === undefined && target !== undefined) {
    const extra = target.extra === undefined ? '' : `; ${target.extra.label}`;
    return `${fmtRatio(target.ratio)} vs ${target.baseline}${extra}`;
  }
  if (target !== undefined) {
    const extra = target.extra === undefined ? '' : `; ${target.extra.label}`;
    return `${fmtRatio(target.ratio)} vs ${target.baseline}; target ≥ ${target.minimumRatio}×${extra}: **${target.met ? 'met' : 'not met'}**`;
  }
  if (versus !== undefined) return `${fmtRatio(versus.ratio)} vs ${versus.baseline}`;
  return '';
}

/** The Markdown table (and notes) written next to the JSON and pasted into bench/README.md. */
export function toMarkdown(report: BenchReport): string {
  const { machine, settings } = report;
  const lines = [
    `Tessera benchmark (${report.mode}), ${report.startedAt}`,
    '',
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.platform}, Node ${machine.node}; ${machine.pinned}; load average at start ${machine.loadAverage}.`,
    `Settings: ${settings.rounds} rounds × ${settings.seconds} s per scenario, ${settings.connections} connections (password grant: 4), ` +
      `token pool ${settings.tokenPool}, Tessera LOG_LEVEL=${settings.logLevel}. Rates: median (min–max) over the rounds; ` +
      `ratios: median (min–max) of per-round ratios of requests per server CPU-second.`,
    '',
    '| scenario | req/s (wall) | req per server CPU-s | p50 ms | p99 ms | peak RSS MiB | per CPU-s vs baseline, target |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const s of report.scenarios) {
    if (s.skipped !== undefined) {
      lines.push(`| ${s.title} | skipped | | | | | ${s.skipped} |`);
      continue;
    }
    const failed = s.failures > 0 ? ` ⚠ ${s.failures} failed requests` : '';
    const p99 =
      s.probeP99Ms === undefined ? fmt(s.p99Ms, 1) : `${fmt(s.p99Ms, 1)} (/healthz ${fmt(s.probeP99Ms, 1)})`;
    lines.push(
      `| ${s.title} | ${fmtRate(s.wallRate)} | ${fmtRate(s.cpuRate)} | ${fmt(s.p50Ms, 1)} | ${p99} | ${fmt(s.peakRssMiB)} | ${targetCell(s)}${failed} |`,
    );
  }
  if (report.verdicts !== undefined) {
    const met = report.verdicts.filter((v) => v.met === true).length;
    const judged = report.verdicts.filter((v) => v.met !== undefined).length;
    lines.push(
      '',
      `Targets (median of same-round ratios per server CPU-second): ${met} of ${judged} judged met.`,
      '',
    );
    lines.push(...report.verdicts.map(verdictLine));
  }
  if (report.notes.length > 0) lines.push('', ...report.notes.map((note) => `- ${note}`));
  return `${lines.join('\n')}\n`;
}
