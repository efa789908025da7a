// Scaling out for real: 3 replicas on 3 "hosts", Redis on a 4th, HAProxy in front, all in network namespaces.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MODELS, ROOT, tempRepository } from '../helpers.js';
import { waitFor } from '../wait.js';
import { haproxyConfig, serverStates } from './balancer.js';
import { Lab, labUnavailable, type Spawned } from './lab.js';
import { callVia, loadVia, type Load } from './through.js';

const LIMIT = 40; // predictions per client per window, across all replicas
const WINDOW_MS = 60_000;
const REPLICAS = ['r1', 'r2', 'r3'] as const;
const IP = {
  lb: '10.231.0.2',
  r1: '10.231.0.11',
  r2: '10.231.0.12',
  r3: '10.231.0.13',
  redis: '10.231.0.20',
};
const PORT = 8080;

/** Why the lab cannot run here, or undefined; under CI a missing lab is a failure, not a skip. */
async function missing(): Promise<string | undefined> {
  const reason = await labUnavailable();
  if (reason !== undefined) return reason;
  for (const program of ['haproxy', 'redis-server']) {
    try {
      execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    } catch {
      return `${program} is not installed (apt-get install ${program})`;
    }
  }
  return undefined;
}

const unavailable = await missing();
if (unavailable !== undefined && process.env.CI) {
  it('runs the multi-host lab in CI', () => assert.fail(`the lab cannot run in CI: ${unavailable}`));
}
const skip =
  unavailable === undefined ? false : `skipped: network namespaces unavailable here (${unavailable})`;

/** Numbers docs/deploying.md's "Scaling out" section quotes; printed at the end of the run. */
const measured: Record<string, unknown> = {};

describe(
  'three replicas on three hosts behind HAProxy, sharing one Redis',
  { skip, timeout: 240_000 },
  () => {
    let lab: Lab;
    let dir: string;
    let socket: string;
    let admin: string;
    let cleanupModels: () => Promise<void>;
    let repository: string;
    const replicas = new Map<string, Spawned>();

    const replicaEnv = (name: (typeof REPLICAS)[number]): Record<string, string> => ({
      SERVAL_HOST: IP[name],
      SERVAL_PORT: String(PORT),
      SERVAL_WORKERS: '1',
      SERVAL_LOG_LEVEL: 'warn',
      SERVAL_MODEL_REPOSITORY: repository,
      SERVAL_REDIS_URL: `redis://${IP.redis}:6379`,
      SERVAL_REDIS_FAILURE_POLICY: 'open',
      SERVAL_RATE_LIMIT_ENABLED: 'true',
      SERVAL_RATE_LIMIT_PREDICT_MAX: String(LIMIT),
      SERVAL_RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
      SERVAL_CACHE_ENABLED: 'true',
      SERVAL_TRUST_PROXY: IP.lb, // X-Forwarded-For from the balancer only
      SERVAL_SHUTDOWN_DELAY_MS: '1500', // > the balancer's 2 failed checks 200 ms apart
      SERVAL_KEEP_ALIVE_TIMEOUT_MS: '30000', // longer than the balancer keeps idle connections
    });

    const startReplica = (name: (typeof REPLICAS)[number]) => {
      const replica = lab.spawn(name, process.execPath, [join(ROOT, 'dist/server.js')], replicaEnv(name));
      replicas.set(name, replica);
      return replica;
    };

    /** Polls the balancer until the server is in the state its health checks give (UP, DOWN). */
    async function waitForState(server: string, state: string, timeoutMs = 15_000): Promise<number> {
      const started = performance.now();
      let states: Record<string, string> = {};
      await waitFor(async () => (states = await serverStates(admin))[server] === state, {
        what: () => `${server} is ${state} (states: ${JSON.stringify(states)})`,
        timeoutMs,
        intervalMs: 25,
      });
      return performance.now() - started;
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'serval-lab-'));
      socket = join(dir, 'lb.sock');
      admin = join(dir, 'admin.sock');
      const models = await tempRepository({ 'iris/1': { from: join(MODELS, 'iris/1') } });
      repository = models.root;
      cleanupModels = models.cleanup;
      lab = await Lab.create(`sv${process.pid}`, [
        { name: 'lb', ip: IP.lb },
        ...REPLICAS.map((name) => ({ name, ip: IP[name] })),
        { name: 'redis', ip: IP.redis },
      ]);
      lab.spawn('redis', 'redis-server', [
        ...['--bind', IP.redis, '--port', '6379', '--protected-mode', 'no'],
        ...['--save', '', '--appendonly', 'no'],
      ]);
      for (const name of REPLICAS) startReplica(name);
      const config = join(dir, 'haproxy.cfg');
      await writeFile(
        config,
        haproxyConfig({
          socket,
          adminSocket: admin,
          servers: REPLICAS.map((name) => ({ name, address: `${IP[name]}:${PORT}` })),
        }),
      );
      const balancer = lab.spawn('lb', 'haproxy', ['-db', '-f', config]);
      await waitFor(
        async () => {
          assert.equal(balancer.child.exitCode, null, `haproxy exited: ${balancer.output()}`);
          return serverStates(admin).then(
            () => true,
            () => false,
          );
        },
        { what: "haproxy's admin socket answers", intervalMs: 50 },
      );
      const started = performance.now();
      for (const name of REPLICAS) await waitForState(name, 'UP', 30_000);
      measured.threeReplicasUpMs = Math.round(performance.now() - started);
    });

    after(async () => {
      await lab.destroy();
      await cleanupModels();
      await rm(dir, { recursive: true, force: true });
      console.log(`scaling numbers: ${JSON.stringify(measured)}`);
    });

    const body = (x: number) => JSON.stringify({ instances: [[5.1, 3.5, 1.4, x]] });

    it('holds one rate limit across all replicas: the 200s add up to the limit', async () => {
      const started = performance.now();
      const answers = [];
      for (let i = 0; i < 2 * LIMIT; i++) {
        answers.push(await callVia(socket, '/v1/models/iris:predict', body(0.2), '198.51.100.7'));
      }
      const elapsed = performance.now() - started;
      assert.ok(elapsed < WINDOW_MS, 'all inside one window');
      const ok = answers.filter((a) => a.status === 200);
      assert.equal(ok.length, LIMIT, String(answers.map((a) => a.status)));
      assert.equal(answers.filter((a) => a.status === 429).length, LIMIT);
      assert.deepEqual(new Set(ok.map((a) => a.servedBy)), new Set(REPLICAS), 'every replica answered');
      assert.equal(answers.at(-1)?.headers['ratelimit-limit'], String(LIMIT));
    });

    it('answers a prediction cached by one replica as a hit on the others', async () => {
      const unique = body(0.123456);
      const first = await callVia(socket, '/v1/models/iris:predict', unique, '198.51.100.8');
      assert.equal(first.status, 200);
      assert.equal(first.headers['cache-status'], 'serval; fwd=miss; stored');
      const others = new Set<string>();
      for (let i = 0; i < 6 && others.size < 2; i++) {
        const again = await callVia(socket, '/v1/models/iris:predict', unique, '198.51.100.8');
        assert.equal(again.status, 200);
        assert.equal(again.headers['cache-status'], 'serval; hit', `from ${again.servedBy}`);
        assert.equal(again.body, first.body);
        if (again.servedBy !== first.servedBy) others.add(again.servedBy);
      }
      assert.equal(others.size, 2, 'both other replicas answered from the shared entry');
    });

    it('restarts every replica in turn under steady load without one failed request', async () => {
      const load = loadVia(socket, { connections: 16, body: (i) => body(0.2 + (i % 20) / 100) });
      await sleep(1000); // the load runs a while before the first restart
      const restarts: Record<string, number>[] = [];
      for (const name of REPLICAS) {
        const replica = replicas.get(name)!;
        const t0 = performance.now();
        replica.child.kill('SIGTERM');
        const outAfter = await waitForState(name, 'DOWN');
        assert.equal(await replica.exited, 0, replica.output());
        const stopped = performance.now() - t0;
        startReplica(name);
        await waitForState(name, 'UP', 30_000);
        restarts.push({
          outOfRotationMs: Math.round(outAfter),
          exitedMs: Math.round(stopped),
          backUpMs: Math.round(performance.now() - t0),
        });
        await sleep(500); // and a while between two restarts
      }
      const result = await load.stop();
      measured.rollingRestart = { ...summary(result), restarts };
      assert.equal(result.failed, 0, JSON.stringify(summary(result)));
      assert.ok(result.ok > 1000, `steady load: ${result.ok} answers`);
      for (const name of REPLICAS) assert.ok((result.servedBy[name] ?? 0) > 0, `${name} served`);
    });

    it('loses at most the requests a killed replica held; the health check takes it out; the others serve on', async () => {
      const connections = 16;
      const load = loadVia(socket, { connections, body: (i) => body(0.2 + (i % 20) / 100) });
      await sleep(1500); // the load runs a while before the kill
      const victim = replicas.get('r2')!;
      const killedAt = performance.now();
      victim.child.kill('SIGKILL');
      const detectedMs = await waitForState('r2', 'DOWN');
      const outAt = performance.now();
      await sleep(2000); // and a while once the balancer has taken the killed replica out
      const result = await load.stop();
      const late = result.failures.filter((f) => f.at > outAt);
      measured.sigkill = {
        ...summary(result),
        healthCheckDownMs: Math.round(detectedMs),
        failedBeforeDown: result.failures.filter((f) => f.at <= outAt && f.at >= killedAt).length,
      };
      assert.ok(result.failed <= connections, `at most what was in flight: ${result.failed}`);
      assert.deepEqual(late, [], 'no failure once the balancer had taken it out');
      assert.ok(
        result.failures.every((f) => f.at >= killedAt),
        'nothing failed before the kill',
      );
      assert.ok((result.servedByAfter(outAt).r1 ?? 0) > 0 && (result.servedByAfter(outAt).r3 ?? 0) > 0);
      assert.equal(result.servedByAfter(outAt).r2, undefined);
      startReplica('r2');
      await waitForState('r2', 'UP', 30_000);
    });

    it('serves without a 5xx while Redis is unreachable, then shares limits and cache again', async () => {
      await lab.linkDown('redis');
      const during = loadVia(socket, { connections: 8, body: (i) => body(0.3 + (i % 50) / 1000) });
      await sleep(4000); // the load runs through a while of Redis being unreachable
      const outage = await during.stop();
      measured.redisDown = summary(outage);
      const fiveHundreds = Object.entries(outage.statusCodes).filter(([code]) => code.startsWith('5'));
      assert.deepEqual(fiveHundreds, [], 'no 5xx with the open failure policy');
      assert.equal(outage.errors, 0, 'no connection errors');
      assert.equal(outage.failed, 0, JSON.stringify(summary(outage)));

      await lab.linkUp('redis');
      const back = performance.now();
      // Shared again: a prediction stored by one replica is a hit on another.
      let tries = 0;
      await waitFor(
        async () => {
          const key = body(0.5 + ++tries / 1e6); // a new instance each try: never a replica's own entry
          const first = await callVia(socket, '/v1/models/iris:predict', key, '198.51.100.9');
          const second = await callVia(socket, '/v1/models/iris:predict', key, '198.51.100.9');
          return second.servedBy !== first.servedBy && second.headers['cache-status'] === 'serval; hit';
        },
        { what: 'the cache is shared again', timeoutMs: 30_000, intervalMs: 250 },
      );
      measured.redisBackSharedAfterMs = Math.round(performance.now() - back);
      // Each replica's breaker closes on its own probe: the cache shared by two says little of the third. One limit
      // again, within seconds: a fresh client address each try, twice the limit sent, exactly the limit served.
      const served: number[] = [];
      await waitFor(
        async () => {
          let ok = 0;
          const address = `198.51.100.${20 + served.length}`;
          for (let i = 0; i < 2 * LIMIT; i++) {
            if ((await callVia(socket, '/v1/models/iris:predict', body(0.2), address)).status === 200) ok++;
          }
          served.push(ok);
          return ok === LIMIT;
        },
        {
          what: () => `one limit across replicas again (200s per try: ${served.join(', ')})`,
          timeoutMs: 25_000, // about ten tries
          intervalMs: 1000,
        },
      );
      measured.redisBackLimitedAfterMs = Math.round(performance.now() - back);
    });
  },
);

function summary(load: Load) {
  return {
    seconds: Number(load.seconds.toFixed(1)),
    answers: load.ok + load.failed,
    rps: Math.round(load.ok / load.seconds),
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    maxMs: load.maxMs,
    failed: load.failed,
    statusCodes: load.statusCodes,
    servedBy: load.servedBy,
  };
}
