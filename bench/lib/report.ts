import type { Spread } from './stats.js';

/** A speed target: this scenario's rate per server CPU-second, against a baseline's, from the same run. */
export interface TargetResult {
  baseline: string;
  minimumRatio: number;
  /** Median of the per-round ratios (each round pairs the scenario with the baseline measured just before it). */
  ratio: Spread;
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
  versus?: { baseline: string; ratio: Spread };
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
  notes: string[];
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
  if (report.notes.length > 0) lines.push('', ...report.notes.map((note) => `- ${note}`));
  return `${lines.join('\n')}\n`;
}
