import autocannon from 'autocannon';
import { cpuSeconds } from './processes.js';

/** One measured round of one scenario. */
export interface Sample {
  /** Completed requests with a 2xx/3xx answer. */
  requests: number;
  wallSeconds: number;
  /** CPU time the server process used during the round (every thread, user + system). */
  serverCpuSeconds: number;
  p50Ms: number;
  p99Ms: number;
  /** 4xx/5xx answers and connection errors: a scenario that has any is broken, not slow. */
  failures: number;
  /** A concurrent probe's p99 (e.g. /healthz during the password grant), when the scenario has one. */
  probeP99Ms?: number;
}

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called before every request (in the load generator): returns headers to set, e.g. a fresh token. */
  perRequestHeaders?: () => Record<string, string>;
  /**
   * Credentials that are used up by each request and replaced by its answer (refresh-token
   * rotation): `take` gives the next one (from a shared queue: one per connection in flight),
   * `toBody` makes the request body, `onBody` reads the replacement from the response.
   */
  rotating?: {
    take: () => string | undefined;
    toBody: (credential: string) => string;
    onBody: (body: string) => void;
  };
}

export interface LoadOptions {
  url: string;
  request: LoadRequest;
  connections: number;
  /** How long to drive it; or, with `amount`, how many requests to send (autocannon's duration runs whole seconds). */
  seconds: number;
  amount?: number;
  /** The process whose CPU time is charged to this round. */
  serverPid: number;
  /** A light, rate-limited probe sent alongside (its p99 is reported, its failures counted). */
  probe?: { path: string; ratePerSecond: number };
}

function toAutocannonRequest(request: LoadRequest): autocannon.Request {
  const base: autocannon.Request = {
    method: request.method,
    path: request.path,
    headers: request.headers ?? {},
    ...(request.body === undefined ? {} : { body: request.body }),
  };
  const { perRequestHeaders: perRequest, rotating } = request;
  if (rotating !== undefined) {
    return {
      ...base,
      setupRequest: (req: autocannon.Request) => ({ ...req, body: rotating.toBody(rotating.take() ?? '') }),
      onResponse: (status: number, body: string) => {
        if (status === 200) rotating.onBody(body);
      },
    };
  }
  if (perRequest === undefined) return base;
  return {
    ...base,
    setupRequest: (req: autocannon.Request) => ({
      ...req,
      headers: { ...req.headers, ...perRequest() },
    }),
  };
}

/** Drives one server for `seconds` with autocannon and charges the server's own CPU time to it. */
export async function measure(options: LoadOptions): Promise<Sample> {
  const cpuBefore = cpuSeconds(options.serverPid);
  const started = process.hrtime.bigint();
  const main = autocannon({
    url: options.url,
    connections: options.connections,
    // autocannon ends a run on its sampling tick (1 s by default): tick often, so a run ends when it should.
    sampleInt: 100,
    ...(options.amount === undefined ? { duration: options.seconds } : { amount: options.amount }),
    requests: [toAutocannonRequest(options.request)],
  });
  const probe =
    options.probe === undefined
      ? undefined
      : autocannon({
          url: options.url,
          connections: 1,
          sampleInt: 100,
          ...(options.amount === undefined ? { duration: options.seconds } : { amount: 3 }),
          overallRate: options.probe.ratePerSecond,
          requests: [{ method: 'GET', path: options.probe.path }],
        });
  const [result, probeResult] = await Promise.all([main, probe]);
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const serverCpuSeconds = cpuSeconds(options.serverPid) - cpuBefore;
  // 304 (the JWKS with If-None-Match) is a success; autocannon's non2xx would count it.
  const failed = (r: autocannon.Result) => r['4xx'] + r['5xx'] + r.errors;
  const failures = failed(result) + (probeResult === undefined ? 0 : failed(probeResult));
  return {
    requests: result['2xx'] + result['3xx'],
    wallSeconds,
    serverCpuSeconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failures,
    ...(probeResult === undefined ? {} : { probeP99Ms: probeResult.latency.p99 }),
  };
}
