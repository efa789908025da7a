// The config loader: defaults, env overrides, errors naming the key, the configuration page, CPU quotas.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { quotaCpus } from '../../src/lib/cpus.js';
import {
  checkPaths,
  ConfigError,
  configKeys,
  createConfig,
  envName,
  readConfigFile,
  unknownVariables,
} from '../../src/config/create-config.js';

describe('createConfig', () => {
  it('defaults to 0.0.0.0:50505 with one worker per core', () => {
    const config = createConfig();
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 50505);
    assert.equal(config.workers, 0);
  });

  it('lets the environment override the file, converting numbers', () => {
    const config = createConfig({ port: 8000, logLevel: 'warn' }, { SERVAL_PORT: '9000' });
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, 'warn');
  });

  it('derives every environment variable name from the schema key', () => {
    assert.equal(envName('requestTimeoutMs'), 'SERVAL_REQUEST_TIMEOUT_MS');
    for (const key of configKeys) assert.match(envName(key), /^SERVAL_[A-Z_]+$/);
  });

  it('lists the allowed values of an enum key', () => {
    assert.throws(
      () => createConfig({}, { SERVAL_LOG_LEVEL: 'verbose' }),
      /SERVAL_LOG_LEVEL must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent" \(got "verbose"\)/,
    );
    assert.throws(() => createConfig({ jwtAlgorithms: ['XX'] }), /must be one of "HS256", .*"EdDSA"/);
  });

  it('suggests the closest key for an unknown file key', () => {
    assert.throws(() => createConfig({ prot: 1 }), /unknown key "prot" \(did you mean "port"\?\)/);
  });

  it('names unknown SERVAL_* variables with the closest setting, and ignores everything else', () => {
    const warnings = unknownVariables({ SERVAL_PORTT: '1', SERVAL_PORT: '2', SERVAL_CONFIG: 'x', HOME: '/' });
    assert.deepEqual(warnings, [
      'environment variable SERVAL_PORTT is not a Serval setting; did you mean SERVAL_PORT?',
    ]);
    assert.match(unknownVariables({ SERVAL_WHATEVER_ELSE_ENTIRELY: '1' })[0]!, /not a Serval setting$/);
  });

  it('names the environment variable of a bad value', () => {
    assert.throws(() => createConfig({}, { SERVAL_PORT: '70000' }), /SERVAL_PORT.*65535/);
    assert.throws(() => createConfig({}, { SERVAL_WORKERS: '2abc' }), /SERVAL_WORKERS/);
    assert.throws(() => createConfig({}, { SERVAL_LOG_LEVEL: 'loud' }), /SERVAL_LOG_LEVEL/);
  });

  it('names the config file key of a bad value', () => {
    assert.throws(() => createConfig({ bodyLimitBytes: -1 }), /config file key "bodyLimitBytes"/);
    assert.throws(() => createConfig({ inferenceMode: 'gpu' }), /"inferenceMode"/);
  });

  it('rejects unknown keys, naming them', () => {
    assert.throws(
      () => createConfig({ prot: 50505 }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /unknown key "prot"/);
        return true;
      },
    );
  });

  it('rejects a headers timeout longer than the request timeout', () => {
    assert.throws(() => createConfig({ headersTimeoutMs: 5000, requestTimeoutMs: 1000 }), /headersTimeoutMs/);
  });

  it('documents every key and its environment variable in docs/configuration.md', () => {
    const page = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const key of configKeys) {
      assert.ok(page.includes(`| \`${key}\``), `docs/configuration.md lacks ${key}`);
      assert.ok(page.includes(`\`${envName(key)}\``), `docs/configuration.md lacks ${envName(key)}`);
    }
  });

  it('skips "//" comment keys in the file', () => {
    assert.equal(createConfig({ '//': 'a comment', port: 1234 }).port, 1234);
  });
});

describe('readConfigFile', () => {
  it('reads the repository config file, which validates', () => {
    const file = readConfigFile(undefined);
    assert.equal(createConfig(file).port, 50505);
  });

  it('fails on an explicit missing file and on invalid JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'serval-config-'));
    assert.throws(() => readConfigFile(join(dir, 'missing.json')), /Cannot read config file/);
    await writeFile(join(dir, 'bad.json'), '{ "port": ');
    assert.throws(() => readConfigFile(join(dir, 'bad.json')), /not valid JSON/);
    await writeFile(join(dir, 'array.json'), '[1]');
    assert.throws(() => readConfigFile(join(dir, 'array.json')), /JSON object/);
  });

  it('refuses a file nested deeper or larger than files may be, naming the bound', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'serval-config-'));
    await writeFile(join(dir, 'deep.json'), `{"corsOrigins": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
    assert.throws(() => readConfigFile(join(dir, 'deep.json')), /nests arrays and objects more than 32 deep/);
    await writeFile(join(dir, 'large.json'), JSON.stringify({ '//': 'x'.repeat(1024 * 1024) }));
    assert.throws(() => readConfigFile(join(dir, 'large.json')), /is larger than 1048576 bytes/);
  });
});

describe('the gRPC settings', () => {
  it('default to gRPC on, port 50506 beside HTTP, 64 MiB received and 2 GiB sent', () => {
    const config = createConfig();
    assert.equal(config.grpcEnabled, true);
    assert.equal(config.grpcPort, 50506);
    assert.equal(config.grpcHost, '');
    assert.equal(config.grpcMaxReceiveBytes, 64 * 1024 * 1024);
    assert.equal(config.grpcMaxSendBytes, 2 ** 31 - 1);
  });

  it('take SERVAL_GRPC_* from the environment', () => {
    const config = createConfig({}, { SERVAL_GRPC_ENABLED: 'false', SERVAL_GRPC_PORT: '0' });
    assert.equal(config.grpcEnabled, false);
    assert.equal(config.grpcPort, 0);
  });

  it('refuse a gRPC port equal to the HTTP port', () => {
    assert.throws(() => createConfig({ port: 9000, grpcPort: 9000 }), /grpcPort must differ from port/);
    assert.equal(createConfig({ port: 0, grpcPort: 0 }).grpcPort, 0);
  });

  it('refuse a TLS certificate without its key, and files that do not exist', () => {
    assert.throws(
      () => createConfig({ grpcTlsCertFile: '/tmp/cert.pem' }),
      /set both grpcTlsCertFile and grpcTlsKeyFile, or neither/,
    );
    const config = createConfig({
      grpcTlsCertFile: '/nonexistent/c.pem',
      grpcTlsKeyFile: '/nonexistent/k.pem',
    });
    assert.throws(() => checkPaths(config), /grpcTlsCertFile "\/nonexistent\/c.pem" does not exist/);
  });
});

describe('the payload log settings', () => {
  it('default to off, logging requests and responses, with no header copied', () => {
    const config = createConfig();
    assert.equal(config.payloadLogUrl, '');
    assert.equal(config.payloadLogMode, 'all');
    assert.deepEqual(config.payloadLogHeaders, []);
  });

  it('take the URL, the mode and the header list from the environment', () => {
    const config = createConfig(
      {},
      {
        SERVAL_PAYLOAD_LOG_URL: 'http://logger.monitoring:8080/',
        SERVAL_PAYLOAD_LOG_MODE: 'response',
        SERVAL_PAYLOAD_LOG_HEADERS: 'X-Request-Id, x-tenant',
      },
    );
    assert.equal(config.payloadLogUrl, 'http://logger.monitoring:8080/');
    assert.equal(config.payloadLogMode, 'response');
    assert.deepEqual(config.payloadLogHeaders, ['X-Request-Id', 'x-tenant']);
    assert.throws(
      () => createConfig({}, { SERVAL_PAYLOAD_LOG_MODE: 'both' }),
      /"all", "request", "response"/,
    );
  });

  it('refuse to copy credentials into events, in any case', () => {
    for (const header of ['Authorization', 'cookie', 'Set-Cookie', 'PROXY-AUTHORIZATION']) {
      assert.throws(
        () => createConfig({ payloadLogHeaders: ['x-request-id', header] }),
        new RegExp(`payloadLogHeaders lists "${header}", which carries credentials and is never logged`),
      );
    }
  });

  it('refuse a sink that is neither HTTP nor a Redis stream, and a stream without Redis', () => {
    for (const url of ['ftp://host/', 'logger:8080', 'redis://localhost:6379']) {
      assert.throws(
        () => createConfig({ payloadLogUrl: url }),
        /payloadLogUrl must be an http\(s\):\/\/ URL/,
      );
    }
    assert.throws(
      () => createConfig({ payloadLogUrl: 'redis-stream://serval:payloads' }),
      /redis-stream:\/\/<key> needs redisUrl/,
    );
    const config = createConfig({
      payloadLogUrl: 'redis-stream://serval:payloads',
      redisUrl: 'redis://127.0.0.1:6379',
    });
    assert.equal(config.payloadLogUrl, 'redis-stream://serval:payloads');
  });
});

describe("OpenTelemetry's variables", () => {
  it('set the trace keys as the specification says: a traces endpoint as given, the general one with /v1/traces', () => {
    assert.equal(
      createConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://tempo:4318/' }).traceEndpoint,
      'http://tempo:4318/v1/traces',
    );
    const both = createConfig(
      {},
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://tempo:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/traces',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SDK_DISABLED: 'TRUE',
      },
    );
    assert.equal(both.traceEndpoint, 'http://jaeger:4318/traces');
    assert.equal(both.traceProtocol, 'http/json');
    assert.equal(both.traceDisabled, true);
    assert.equal(createConfig({}, { OTEL_SDK_DISABLED: 'yes' }).traceDisabled, false, 'only "true" disables');
  });

  it("set the batch span processor's keys, which SERVAL_TRACE_* variables override", () => {
    const config = createConfig(
      {},
      {
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_BSP_EXPORT_TIMEOUT: '2000',
        OTEL_BSP_MAX_QUEUE_SIZE: '64',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '16',
        SERVAL_TRACE_QUEUE_SIZE: '128',
      },
    );
    assert.equal(config.traceExportDelayMs, 100);
    assert.equal(config.traceExportTimeoutMs, 2000);
    assert.equal(config.traceQueueSize, 128);
    assert.equal(config.traceExportBatchSize, 16);
  });

  it('name the OTEL_* variable of a bad value', () => {
    assert.throws(
      () => createConfig({}, { OTEL_BSP_SCHEDULE_DELAY: 'soon' }),
      (err: unknown) => err instanceof ConfigError && /OTEL_BSP_SCHEDULE_DELAY/.test(err.message),
    );
  });
});

describe('quotaCpus', () => {
  it('reads the cgroup v2 CPU quota, rounding up, and ignores "max"', () => {
    assert.equal(quotaCpus('max 100000\n'), undefined);
    assert.equal(quotaCpus('100000 100000\n'), 1);
    assert.equal(quotaCpus('150000 100000'), 2);
    assert.equal(quotaCpus('50000 100000'), 1);
  });
});
