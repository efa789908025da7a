// The KServe runtime and example InferenceServices (deploy/kserve) say what KServe and Serval need of each other.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers.js';
import { envOf, find, KNOWN_ENV } from './manifest-helpers.js';
import { loadManifests } from './validate.js';

const manifests = loadManifests(ROOT, 'deploy/kserve');
const runtime = find(manifests, 'ClusterServingRuntime', 'serval-onnx');
const [container] = runtime.spec.containers;
const env = envOf(container);
const services = manifests.filter((m) => m.doc.kind === 'InferenceService').map((m) => m.doc as any);

describe('the KServe ClusterServingRuntime', () => {
  it('serves ONNX models over V1, V2 and gRPC V2, auto-selected', () => {
    assert.deepEqual(runtime.spec.supportedModelFormats, [{ name: 'onnx', version: '1', autoSelect: true }]);
    assert.deepEqual(runtime.spec.protocolVersions, ['v1', 'v2', 'grpc-v2']);
    assert.equal(container.name, 'kserve-container');
    for (const name of env.keys()) assert.ok(KNOWN_ENV.has(name), `${name} is a Serval variable`);
  });

  it('listens on 8080 for HTTP and on the port named h2c for gRPC, and says where metrics are', () => {
    assert.equal(env.get('SERVAL_PORT')?.value, '8080');
    const ports = new Map(container.ports.map((p: any) => [p.name, p.containerPort]));
    assert.equal(ports.get('http1'), 8080);
    assert.equal(String(ports.get('h2c')), env.get('SERVAL_GRPC_PORT')?.value);
    assert.equal(runtime.spec.annotations['prometheus.kserve.io/port'], '8080');
    assert.equal(runtime.spec.annotations['prometheus.kserve.io/path'], '/metrics');
  });

  it("serves the storage initializer's /mnt/models under the InferenceService's name", () => {
    assert.equal(env.get('SERVAL_MODEL_REPOSITORY')?.value, '/mnt/models');
    assert.equal(env.get('SERVAL_MODEL_NAME')?.value, '{{.Name}}');
  });

  it('is ready only once the model is loaded, and has a startup probe, resources and a non-root context', () => {
    assert.equal(container.readinessProbe.httpGet.path, '/v2/health/ready');
    assert.equal(container.readinessProbe.httpGet.port, 8080);
    assert.equal(container.startupProbe.httpGet.path, '/v2/health/ready');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
    assert.equal(env.get('SERVAL_WORKERS')?.valueFrom.resourceFieldRef.resource, 'limits.cpu');
    assert.equal(container.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.runAsUser, 1000);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  });
});

describe('the example InferenceServices', () => {
  const byProtocol = (protocol: string) =>
    services.filter((s) => s.spec.predictor.model.protocolVersion === protocol);

  it('use the runtime with an ONNX model from a storageUri', () => {
    assert.equal(services.length, 3);
    for (const isvc of services) {
      const { model } = isvc.spec.predictor;
      assert.equal(model.runtime, runtime.metadata.name);
      assert.deepEqual(model.modelFormat, { name: 'onnx', version: '1' });
      assert.ok(model.storageUri);
    }
  });

  it('cover V2 REST, gRPC V2 and autoscaling', () => {
    assert.ok(byProtocol('v2').length >= 1);
    assert.equal(byProtocol('grpc-v2').length, 1);
    const scaled = services.filter((s) => s.spec.predictor.maxReplicas !== undefined);
    assert.equal(scaled.length, 1);
    const [predictor] = scaled.map((s) => s.spec.predictor);
    assert.ok(predictor.minReplicas >= 1 && predictor.maxReplicas > predictor.minReplicas);
    assert.equal(predictor.scaleMetric, 'cpu');
  });
});
