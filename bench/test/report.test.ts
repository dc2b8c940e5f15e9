import { describe, expect, it } from '@jest/globals';
import { judgeTargets, toMarkdown, type BenchReport, type ScenarioResult } from '../lib/report.js';

/** A scenario with per-round ratios to `baseline` (paired as a target, or as a plain comparison). */
function scenario(id: string, baseline: string, perRound: number[], paired = true): ScenarioResult {
  const ratio = { median: 0, min: 0, max: 0 };
  return {
    id,
    title: id,
    group: 'tessera',
    rounds: perRound.length,
    failures: 0,
    ...(paired
      ? { target: { baseline, ratio, perRound, met: true } }
      : { versus: { baseline, ratio, perRound } }),
  };
}

describe('judgeTargets', () => {
  const definitions = [
    { label: 'vs floor', scenario: 'mine', over: 'floor', minimum: 0.9 },
    { label: 'as it is', scenario: 'repeated', minimum: 0.85 },
    { label: 'needs a peer', scenario: 'mine', over: 'peer', minimum: 1.1 },
  ];

  it('divides round by round by the floor, takes the median, and says what did not run', () => {
    const verdicts = judgeTargets(
      [
        scenario('mine', 'raw', [0.45, 0.5, 0.4]),
        scenario('floor', 'raw', [0.5, 0.5, 0.5], false),
        scenario('repeated', 'bare', [0.8, 0.86, 0.9]),
      ],
      definitions,
    );
    expect(verdicts[0]).toMatchObject({ met: true, ratio: { median: 0.9, min: 0.8, max: 1 } });
    expect(verdicts[1]).toMatchObject({ met: true, ratio: { median: 0.86 } });
    expect(verdicts[2]).toMatchObject({ note: 'peer did not run' });
    expect(verdicts[2]?.met).toBeUndefined();
  });

  it('misses a target under its minimum and refuses ratios against different baselines', () => {
    const verdicts = judgeTargets(
      [
        scenario('mine', 'raw', [0.3, 0.3]),
        scenario('floor', 'bare', [0.5, 0.5], false),
        scenario('repeated', 'bare', [0.7, 0.8]),
      ],
      definitions,
    );
    expect(verdicts[0]?.met).toBeUndefined();
    expect(verdicts[1]?.met).toBe(false);
  });

  it('prints pass and miss lines, and none for a smoke report', () => {
    const report: BenchReport = {
      startedAt: 'now',
      mode: 'full',
      machine: { cpus: 2, cpuModel: 'cpu', node: '20', platform: 'linux', pinned: 'no', loadAverage: '0' },
      settings: { rounds: 2, seconds: 1, connections: 1, tokenPool: 1, logLevel: 'warn' },
      scenarios: [],
      verdicts: judgeTargets([scenario('repeated', 'bare', [0.7, 0.8])], definitions),
      notes: [],
    };
    const markdown = toMarkdown(report);
    expect(markdown).toMatch(/- \*\*miss\*\*: as it is: 0\.75× \(0\.70–0\.80\), target ≥ 0\.85×/);
    expect(markdown).toMatch(/- \*\*not judged\*\*: vs floor: target ≥ 0\.9× \(mine did not run\)/);
    const { verdicts: _, ...smoke } = report;
    expect(toMarkdown({ ...smoke, mode: 'smoke' })).not.toMatch(/Targets/);
  });
});
