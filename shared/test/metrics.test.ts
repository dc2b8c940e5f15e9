import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { createServiceMetrics, registerScrapeGauge } from '../src/index.js';

describe('the request latency histogram', () => {
  it('labels a request by its route and status, and one whose client left before the answer as aborted', async () => {
    const metrics = createServiceMetrics('test');
    const req = (path: string) => ({ method: 'POST', route: { path } }) as unknown as IncomingMessage;
    const res = (statusCode: number, writableFinished: boolean) =>
      ({ statusCode, writableFinished }) as ServerResponse;
    metrics.observeRequest(req('/oauth/token'), res(200, true), 0.002);
    metrics.observeRequest(req('/oauth/token'), res(200, false), 0.004);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /http_request_duration_seconds_count\{service="test",method="POST",route="\/oauth\/token",status="200"\} 1/,
    );
    expect(text).toMatch(
      /http_request_duration_seconds_count\{service="test",method="POST",route="\/oauth\/token",status="aborted"\} 1/,
    );
  });
});

describe('a gauge read at scrape time', () => {
  it('reads its value, sync or async, at each scrape', async () => {
    const { registry } = createServiceMetrics('test');
    let held = 1;
    registerScrapeGauge(registry, { name: 'test_held', help: 'held', read: () => held });
    registerScrapeGauge(registry, { name: 'test_stored', help: 'stored', read: async () => held * 10 });
    expect(await registry.metrics()).toMatch(
      /test_held\{service="test"\} 1\n[\s\S]*test_stored\{service="test"\} 10\n/,
    );
    held = 2;
    expect(await registry.metrics()).toMatch(
      /test_held\{service="test"\} 2\n[\s\S]*test_stored\{service="test"\} 20\n/,
    );
  });
});
