// The plain Kubernetes manifests (deploy/k8s) hold together and match what the server does.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createConfig } from '../../src/config/create-config.js';
import { ROOT } from '../helpers.js';
import { envOf, find, KNOWN_ENV, servalEnv } from './manifest-helpers.js';
import { loadManifests } from './validate.js';

const manifests = loadManifests(ROOT, 'deploy/k8s');
const deployment = find(manifests, 'Deployment', 'serval');
const pod = deployment.spec.template.spec;
const [serval] = pod.containers;
const podLabels = deployment.spec.template.metadata.labels;
const matches = (selector: Record<string, string>) =>
  Object.entries(selector).every(([key, value]) => podLabels[key] === value);

describe('deploy/k8s', () => {
  it('lists every manifest in kustomization.yaml but the optional ones, and each listed file exists', () => {
    const kustomization = find(manifests, 'Kustomization');
    const files = readdirSync(join(ROOT, 'deploy/k8s')).filter((f) => f.endsWith('.yaml'));
    const optional = ['kustomization.yaml', 'secret.example.yaml', 'servicemonitor.yaml'];
    assert.deepEqual([...kustomization.resources].sort(), files.filter((f) => !optional.includes(f)).sort());
    for (const file of kustomization.resources) assert.ok(existsSync(join(ROOT, 'deploy/k8s', file)), file);
    assert.deepEqual(
      kustomization.images.map((i: { name: string }) => i.name),
      [serval.image],
    );
  });

  it('gives the server a config it accepts: the ConfigMap file under the env of the Deployment', () => {
    const file = JSON.parse(find(manifests, 'ConfigMap', 'serval-config').data['serval.config.json']);
    const env = servalEnv(serval);
    for (const name of Object.keys(env)) assert.ok(KNOWN_ENV.has(name), `${name} is a Serval variable`);
    const known = Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'SERVAL_GRPC_PORT'));
    const config = createConfig(file, known);
    assert.equal(config.port, serval.ports.find((p: any) => p.name === 'http').containerPort);
    assert.equal(config.authEnabled, true);
    assert.equal(config.rateLimitEnabled, true);
    assert.equal(config.cacheEnabled, true);
    assert.equal(
      env.SERVAL_GRPC_PORT,
      String(serval.ports.find((p: any) => p.name === 'grpc').containerPort),
    );
    const mount = serval.volumeMounts.find((m: any) => env.SERVAL_CONFIG?.startsWith(m.mountPath + '/'));
    assert.equal(pod.volumes.find((v: any) => v.name === mount.name).configMap.name, 'serval-config');
  });

  it('drains within the termination grace period: delay < grace, and grace + 1 s under the kubelet SIGKILL', () => {
    const env = servalEnv(serval);
    const delay = Number(env.SERVAL_SHUTDOWN_DELAY_MS);
    const grace = Number(env.SERVAL_SHUTDOWN_GRACE_MS);
    assert.ok(delay >= 3000, 'long enough for endpoint removal to reach kube-proxy and ingresses');
    assert.ok(delay < grace);
    // The primary waits grace + 1 s for its workers before it gives up.
    assert.ok(grace + 1000 < pod.terminationGracePeriodSeconds * 1000);
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  });

  it('probes liveness on /healthz, readiness on /readyz, and startup before both', () => {
    assert.equal(serval.livenessProbe.httpGet.path, '/healthz');
    assert.equal(serval.readinessProbe.httpGet.path, '/readyz');
    assert.ok(serval.startupProbe.httpGet);
    assert.ok(serval.startupProbe.periodSeconds * serval.startupProbe.failureThreshold >= 30);
  });

  it('starts one worker per CPU of the limit, and runs read-only, non-root, with no capabilities', () => {
    assert.deepEqual(envOf(serval).get('SERVAL_WORKERS')?.valueFrom, {
      resourceFieldRef: { resource: 'limits.cpu', divisor: '1' },
    });
    assert.ok(serval.resources.requests.cpu && serval.resources.limits.cpu && serval.resources.limits.memory);
    for (const container of [
      ...pod.containers,
      ...find(manifests, 'Deployment', 'serval-redis').spec.template.spec.containers,
    ]) {
      const security = container.securityContext;
      assert.equal(security.readOnlyRootFilesystem, true, container.name);
      assert.equal(security.allowPrivilegeEscalation, false, container.name);
      assert.deepEqual(security.capabilities.drop, ['ALL'], container.name);
    }
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 1000, 'numeric: the image names its user `node`');
    assert.equal(pod.automountServiceAccountToken, false);
  });

  it('takes the JWT key and the Redis URL from the Secret', () => {
    const env = envOf(serval);
    assert.deepEqual(env.get('SERVAL_REDIS_URL')?.valueFrom.secretKeyRef, {
      name: 'serval-secrets',
      key: 'redis-url',
    });
    const file = env.get('SERVAL_JWT_SECRET_FILE')?.value ?? '';
    const mount = serval.volumeMounts.find((m: any) => file.startsWith(m.mountPath + '/'));
    const volume = pod.volumes.find((v: any) => v.name === mount.name);
    assert.equal(volume.secret.secretName, 'serval-secrets');
    assert.ok(volume.secret.items.some((i: any) => file.endsWith('/' + i.path)));
    const example = find(manifests, 'Secret', 'serval-secrets');
    for (const key of ['redis-url', 'redis-password', 'jwt-secret'])
      assert.ok(key in example.stringData, key);
  });

  it('wires the Service, HPA, PDB and ServiceMonitor to the Deployment and its named ports', () => {
    const service = find(manifests, 'Service', 'serval');
    assert.ok(matches(service.spec.selector));
    const portNames = serval.ports.map((p: any) => p.name);
    assert.deepEqual(
      service.spec.ports.map((p: any) => p.targetPort),
      ['http', 'grpc'],
    );
    for (const port of service.spec.ports) assert.ok(portNames.includes(port.targetPort));
    const hpa = find(manifests, 'HorizontalPodAutoscaler', 'serval');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'serval' });
    assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
    assert.ok(hpa.spec.minReplicas >= 2, 'a PDB with maxUnavailable 1 needs 2 to let a node drain');
    assert.ok(matches(find(manifests, 'PodDisruptionBudget', 'serval').spec.selector.matchLabels));
    const monitor = find(manifests, 'ServiceMonitor', 'serval');
    assert.ok(
      Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels[k] === v),
    );
    assert.equal(monitor.spec.endpoints[0].port, 'http');
    assert.equal(monitor.spec.endpoints[0].path, '/metrics');
    const redis = find(manifests, 'Service', 'serval-redis');
    assert.match(
      find(manifests, 'Secret', 'serval-secrets').stringData['redis-url'],
      new RegExp(`@${redis.metadata.name}:6379/`),
    );
  });
});
