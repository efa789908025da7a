// A closed-loop HTTP client for requests that depend on each other: each of N connections sends a chain of requests,
// each one built from the previous answer, and a chain's latency is from its first request sent to its last answer
// read. It measures an ensemble (a chain of one request) against the client calling its models one after the
// other (a chain of two) with the same client code, so the client's own cost is the same on both sides.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { LoadRun } from './load.js';

export interface ChainStep {
  path: string;
  /** The JSON body of this step, made from the previous step's parsed answer (undefined for the first step). */
  body: (previous: unknown) => string;
}

export interface ChainSpec {
  base: string;
  steps: readonly ChainStep[];
  connections: number;
  durationS: number;
}

interface Answer {
  status: number;
  body: unknown;
}

function post(agent: Agent, url: URL, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString();
          const status = res.statusCode ?? 0;
          try {
            resolve({ status, body: status < 300 ? JSON.parse(text) : text });
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs chains on every connection until the duration ends; counts each chain once, by its last status. */
export async function runChainLoad(spec: ChainSpec): Promise<LoadRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
  const urls = spec.steps.map((step) => new URL(step.path, spec.base));
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  const started = performance.now();
  const end = started + spec.durationS * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const begin = performance.now();
      let previous: unknown;
      let status = 0;
      try {
        for (const [i, step] of spec.steps.entries()) {
          const answer = await post(agent, urls[i] as URL, step.body(previous));
          status = answer.status;
          if (status >= 300) break;
          previous = answer.body;
        }
      } catch {
        errors += 1;
        continue;
      }
      statusCodes[status] = (statusCodes[status] ?? 0) + 1;
      if (status >= 200 && status < 300) latencies.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, loop));
  agent.destroy();
  const ok = latencies.length;
  const answered = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return {
    durationS: (performance.now() - started) / 1000,
    ok,
    non2xx: answered - ok,
    errors,
    timeouts: 0,
    statusCodes,
    headerValues: {},
    latenciesMs: Float64Array.from(latencies),
  };
}
