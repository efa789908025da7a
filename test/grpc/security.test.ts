// gRPC through the shared security and limits: bearer tokens and scopes from the authorization metadata, one rate
// limit for HTTP and gRPC, message sizes, the prediction cache in its own key space, TLS, health and reflection.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { credentials, loadPackageDefinition, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import { createCore } from '../../src/core/core.js';
import { createAccess } from '../../src/auth/access.js';
import { buildApp } from '../../src/http/app.js';
import { createGrpcServer } from '../../src/grpc/server.js';
import { testConfig, signedToken } from '../helpers.js';
import { grpcClient, irisRequest, loadedGrpc, outputOf, rejection, type InferAnswer } from '../grpc.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

const token = (scope: string, subject = 'tester') => signedToken(SECRET, scope, subject);

async function code(promise: Promise<unknown>): Promise<status | 'ok'> {
  return promise.then(
    () => 'ok' as const,
    (err: unknown) => (err as ServiceError).code,
  );
}

describe('gRPC with authentication on', () => {
  it('needs a bearer token with the scope: UNAUTHENTICATED without, PERMISSION_DENIED with another', async (t) => {
    const grpc = await loadedGrpc({ authEnabled: true, jwtSecret: SECRET });
    t.after(() => grpc.close());
    const { client } = grpc;
    const read = { authorization: `Bearer ${await token('serval:read')}` };
    const predict = { authorization: `Bearer ${await token('serval:predict')}` };
    assert.equal(await code(client.call('ServerLive', {})), 'ok', 'probes stay public');
    assert.equal(await code(client.call('ModelInfer', irisRequest())), status.UNAUTHENTICATED);
    const bad = await rejection(
      client.call('ModelInfer', irisRequest(), { authorization: 'Bearer abc.def.ghi' }),
    );
    assert.equal(bad.code, status.UNAUTHENTICATED);
    assert.match(bad.details, /Authentication required: the token is malformed or invalid/);
    assert.equal(await code(client.call('ModelInfer', irisRequest(), read)), status.PERMISSION_DENIED);
    assert.equal(await code(client.call('ModelInfer', irisRequest(), predict)), 'ok');
    assert.equal(
      await code(client.call('ModelMetadata', { name: 'iris' }, predict)),
      status.PERMISSION_DENIED,
    );
    assert.equal(await code(client.call('ModelMetadata', { name: 'iris' }, read)), 'ok');
    // Statistics are read; the repository changes what is served: admin only, as over REST.
    assert.equal(await code(client.call('ModelStatistics', { name: 'iris' }, read)), 'ok');
    const admin = { authorization: `Bearer ${await token('serval:admin')}` };
    for (const [method, request] of [
      ['RepositoryIndex', {}],
      ['RepositoryModelLoad', { model_name: 'iris' }],
      ['RepositoryModelUnload', { model_name: 'nope' }],
    ] as const) {
      assert.equal(await code(client.call(method, request)), status.UNAUTHENTICATED, method);
      assert.equal(await code(client.call(method, request, read)), status.PERMISSION_DENIED, method);
    }
    assert.equal(await code(client.call('RepositoryIndex', {}, admin)), 'ok');
    assert.equal(await code(client.call('RepositoryModelLoad', { model_name: 'iris' }, admin)), 'ok');
  });

  it('ends a stream without a token with UNAUTHENTICATED, running none of its requests', async (t) => {
    const grpc = await loadedGrpc({ authEnabled: true, jwtSecret: SECRET });
    t.after(() => grpc.close());
    const stream = grpc.client.stream();
    const answers: unknown[] = [];
    stream.on('data', (m) => answers.push(m));
    const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
    stream.write(irisRequest({ id: 'x' }));
    const err = await ended;
    assert.equal(err.code, status.UNAUTHENTICATED);
    assert.deepEqual(answers, []);
  });
});

describe('gRPC limits', () => {
  it('counts gRPC and HTTP inference against one budget per principal', async (t) => {
    const config = testConfig({
      grpcHost: '127.0.0.1',
      grpcPort: 0,
      rateLimitEnabled: true,
      rateLimitPredictMax: 3,
    });
    const core = await createCore(config, (await import('pino')).pino({ level: 'silent' }));
    // As the entry point does: one verifier and one limiter for both front ends.
    const access = await createAccess(config, core);
    const app = await buildApp(config, core, access);
    await app.ready();
    await core.start();
    const server = await createGrpcServer(config, core, access);
    const client = grpcClient(`127.0.0.1:${await server.listen()}`);
    t.after(async () => {
      client.close();
      await server.close(1000);
      await app.close();
      await core.close();
    });
    // inject() comes from 127.0.0.1, as the gRPC client does.
    const http = await app.inject({
      method: 'POST',
      url: '/v1/models/iris:predict',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
    });
    assert.equal(http.statusCode, 200);
    assert.equal(await code(client.call('ModelInfer', irisRequest())), 'ok');
    assert.equal(await code(client.call('ModelInfer', irisRequest())), 'ok');
    const refused = await rejection(client.call('ModelInfer', irisRequest()));
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
    assert.match(refused.details, /Rate limit of 3 requests per 60 s exceeded/);
    assert.ok(Number(refused.metadata.get('retry-after')[0]) >= 1);
    assert.equal(await code(client.call('ServerLive', {})), 'ok', 'probes are not limited');
  });

  it('advertises 16 MiB HTTP/2 windows, so that a large tensor does not wait on window updates', async (t) => {
    const grpc = await loadedGrpc();
    t.after(() => grpc.close());
    const session = connect(`http://127.0.0.1:${grpc.port}`);
    t.after(() => session.close());
    await once(session, 'remoteSettings');
    assert.equal(session.remoteSettings.initialWindowSize, 16 * 1024 * 1024);
  });

  it('answers RESOURCE_EXHAUSTED for a message over grpcMaxReceiveBytes', async (t) => {
    const grpc = await loadedGrpc({ grpcMaxReceiveBytes: 4096 });
    t.after(() => grpc.close());
    const rows = Array.from({ length: 400 }, () => [5.1, 3.5, 1.4, 0.2]);
    assert.equal(
      await code(grpc.client.call('ModelInfer', irisRequest({}, rows))),
      status.RESOURCE_EXHAUSTED,
    );
    assert.equal(await code(grpc.client.call('ModelInfer', irisRequest())), 'ok');
  });
});

describe('the prediction cache over gRPC', () => {
  it('answers repeats from the cache, each with its own id', async (t) => {
    const grpc = await loadedGrpc({ cacheEnabled: true });
    t.after(() => grpc.close());
    const first = await grpc.client.call<InferAnswer>('ModelInfer', irisRequest({ id: 'one' }));
    const second = await grpc.client.call<InferAnswer>('ModelInfer', irisRequest({ id: 'two' }));
    const third = await grpc.client.call<InferAnswer>('ModelInfer', irisRequest());
    assert.deepEqual([first.id, second.id, third.id], ['one', 'two', '']);
    assert.deepEqual(outputOf(second, 'probabilities'), outputOf(first, 'probabilities'));
    assert.equal(grpc.core.cache?.size, 1, 'one entry, in the grpc key space');
  });
});

describe('gRPC health and reflection', () => {
  it('serves grpc.health.v1.Health: SERVING when ready, NOT_SERVING from the start of a drain', async (t) => {
    const grpc = await loadedGrpc();
    t.after(() => grpc.close());
    const health = loadPackageDefinition(loadSync(healthProto, { enums: String })) as unknown as {
      grpc: { health: { v1: { Health: new (a: string, c: unknown) => Record<string, unknown> } } };
    };
    const client = new health.grpc.health.v1.Health(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<string>((resolve, reject) =>
        (client.check as (r: unknown, cb: (e: Error | null, r: { status: string }) => void) => void).call(
          client,
          { service },
          (err, res) => (err ? reject(err) : resolve(res.status)),
        ),
      );
    assert.equal(await check(''), 'SERVING');
    assert.equal(await check('inference.GRPCInferenceService'), 'SERVING');
    grpc.server.notServing();
    assert.equal(await check(''), 'NOT_SERVING');
    (client as unknown as { close(): void }).close();
  });

  it('lists and describes the services through server reflection, as grpcurl asks', async (t) => {
    const grpc = await loadedGrpc();
    t.after(() => grpc.close());
    const proto = join(
      import.meta.dirname,
      '../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
    );
    const pkg = loadPackageDefinition(loadSync(proto, { keepCase: true })) as unknown as {
      grpc: {
        reflection: { v1: { ServerReflection: new (a: string, c: unknown) => Record<string, unknown> } };
      };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(
      `127.0.0.1:${grpc.port}`,
      credentials.createInsecure(),
    );
    const call = (
      client.ServerReflectionInfo as (m: Metadata) => NodeJS.ReadWriteStream & {
        write(m: unknown): void;
      }
    ).call(client, new Metadata());
    const answers: Record<string, unknown>[] = [];
    const done = new Promise<void>((resolve) => call.on('end', resolve));
    call.on('data', (m: Record<string, unknown>) => answers.push(m));
    call.write({ list_services: '*' });
    call.write({ file_containing_symbol: 'inference.GRPCInferenceService' });
    call.end();
    await done;
    const services = (answers[0]?.list_services_response as { service: { name: string }[] }).service.map(
      (s) => s.name,
    );
    assert.ok(services.includes('inference.GRPCInferenceService'), String(services));
    assert.ok(services.includes('grpc.health.v1.Health'), String(services));
    const files = (answers[1]?.file_descriptor_response as { file_descriptor_proto: Buffer[] })
      .file_descriptor_proto;
    assert.ok(files.some((f) => f.includes('ModelInferRequest')));
    (client as unknown as { close(): void }).close();
  });
});

describe('gRPC over TLS', () => {
  it('serves with grpcTlsCertFile and grpcTlsKeyFile', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'serval-tls-'));
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const grpc = await loadedGrpc({ grpcTlsCertFile: cert, grpcTlsKeyFile: key });
    t.after(() => grpc.close());
    const secure = grpcClient(`localhost:${grpc.port}`, credentials.createSsl(await readFile(cert)));
    t.after(() => secure.close());
    assert.deepEqual(await secure.call('ServerLive', {}), { live: true });
    assert.deepEqual(outputOf(await secure.call<InferAnswer>('ModelInfer', irisRequest()), 'label').values, [
      0n,
      2n,
    ]);
    assert.notEqual(
      await code(grpc.client.call('ServerLive', {}, {}, { deadline: Date.now() + 1000 })),
      'ok',
    );
  });
});
