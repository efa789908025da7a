// Shared test helpers: a config for tests, an app built and loaded, and temporary model repositories.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { pino, type Logger } from 'pino';
import { createConfig } from '../src/config/create-config.js';
import type { Config } from '../src/config/schema.js';
import { createCore, type CoreOptions } from '../src/core/core.js';
import { ModelRepository, type RepositoryOptions } from '../src/core/models/repository.js';
import { buildApp } from '../src/http/app.js';
import { freePort } from './net.js';
import { waitFor } from './wait.js';

export { freePort };

export const ROOT = new URL('..', import.meta.url).pathname;
export const MODELS = join(ROOT, 'models');
export const FIXTURE_MODELS = join(ROOT, 'test/fixtures/models');

export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...createConfig({}, {}), logLevel: 'silent', modelRepository: MODELS, ...overrides };
}

/** An HS256 token signed with `secret`, carrying `scope`, for `subject`, valid five minutes. */
export function signedToken(secret: string, scope: string, subject = 'ops'): Promise<string> {
  return new SignJWT({ scope })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));
}

/** POSTs a body to iris:predict as it is, byte for byte, with the given content type. */
export function postBody(app: FastifyInstance, body: string, contentType = 'application/json') {
  return app.inject({
    method: 'POST',
    url: '/v1/models/iris:predict',
    headers: { 'content-type': contentType },
    body,
  });
}

/**
 * An app over its own core, as the process entry point builds them; closing the app closes the core too (in the
 * server the process closes both). Models are not loaded yet.
 */
export async function testApp(
  overrides: Partial<Config> = {},
  logger?: Logger,
  coreOptions?: CoreOptions,
): Promise<FastifyInstance> {
  const config = testConfig(overrides);
  const core = await createCore(config, logger ?? pino({ level: config.logLevel }), coreOptions);
  const app = await buildApp(config, core);
  app.addHook('onClose', () => core.close());
  return app;
}

/** An app with every model loaded, closed by the caller (t.after). */
export async function loadedApp(
  overrides: Partial<Config> = {},
  logger?: Logger,
  coreOptions?: CoreOptions,
): Promise<FastifyInstance> {
  const app = await testApp(overrides, logger, coreOptions);
  await app.ready();
  await app.core.start();
  return app;
}

export interface VersionLayout {
  /** A version folder to copy. */
  from?: string;
  /** Files to write over it (e.g. a broken model.json). */
  files?: Record<string, string>;
}

/** A temporary model repository, laid out as { "name/version": { from, files } }. */
export async function tempRepository(
  layout: Record<string, VersionLayout>,
): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'serval-models-'));
  for (const [target, { from, files = {} }] of Object.entries(layout)) {
    const dir = join(root, target);
    await mkdir(dir, { recursive: true });
    if (from !== undefined) await cp(from, dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  }
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Waits until every app's core has connected to Redis (its client connects in the background once made). */
export async function redisConnected(...apps: FastifyInstance[]): Promise<void> {
  await waitFor(() => apps.every((app) => app.core.redis?.client.status === 'ready'), {
    what: `${apps.length === 1 ? 'the app reaches' : `all ${apps.length} apps reach`} Redis`,
  });
}

export interface Golden {
  instances: number[][];
  labels?: string[];
  probabilities?: number[][];
  values?: number[];
}

export interface RunningRedis {
  url: string;
  port: number;
  stop: () => Promise<void>;
  /** SIGSTOP: the TCP port stays open and nothing answers, as a hung Redis or a cut link looks. */
  pause: () => void;
  resume: () => void;
}

/**
 * The reason to skip a suite that runs a real redis-server (none installed), or false. With CI set a missing
 * redis-server is a failure instead (.ci/run installs it): the calling file gets a failing test that says so.
 */
export function redisSkip(): string | false {
  if (spawnSync('redis-server', ['--version']).status === 0) return false;
  if (!['', '0', 'false', undefined].includes(process.env.CI)) {
    test('redis-server is installed (required when CI is set)', () => {
      assert.fail("no redis-server on PATH: .ci/run installs Debian's redis-server");
    });
  }
  return 'no redis-server on PATH (apt-get install redis-server); with CI set this fails';
}

/** A real redis-server on a free port, for the tests that share state through Redis. */
export async function startRedis(): Promise<RunningRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const client = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // refused while the server starts: retried below
  await waitFor(
    () => {
      if (child.exitCode !== null)
        throw new Error('redis-server exited: is it installed? (apt-get install redis-server)');
      return client.connect().then(
        () => true,
        () => false,
      );
    },
    { what: `redis-server accepts connections on port ${port}`, intervalMs: 50 },
  );
  client.disconnect();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: async () => {
      if (child.exitCode !== null || (child.signalCode !== null && child.signalCode !== 'SIGSTOP')) return;
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A repository over a temporary folder laid out as `layout`, closed and removed after the test. */
export async function repositoryOver(
  t: TestContext,
  layout: Record<string, VersionLayout>,
  options: Partial<RepositoryOptions> = {},
): Promise<{ repository: ModelRepository; root: string }> {
  const { root, cleanup } = await tempRepository(layout);
  const repository = new ModelRepository({
    root,
    modelName: '',
    control: 'none',
    startupModels: [],
    pollIntervalMs: 60_000,
    log: pino({ level: 'silent' }),
    load: {
      mode: 'inline',
      inlineThresholdMs: 50,
      intraOpThreads: 1,
      inferenceTimeoutMs: 10_000,
      batchMaxRows: 1,
      threads: 1,
      queueSize: 16,
      pool: () => assert.fail('inline models need no thread pool'),
    },
    ...options,
  });
  t.after(async () => {
    await repository.close();
    await cleanup();
  });
  return { repository, root };
}
