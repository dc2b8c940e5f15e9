import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { createServiceMetrics } from '../src/index.js';

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
