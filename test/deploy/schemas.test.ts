// Every manifest under deploy/ against the Kubernetes API schemas and KServe's CRDs; a misspelt field fails.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers.js';
import { checkManifests, loadManifests, type Manifest } from './validate.js';

const manifests = loadManifests(ROOT, 'deploy');

/** A deep copy of the one manifest of `kind` in `file`, changed by `edit`, under a name of its own. */
function mutant(file: string, kind: string, name: string, edit: (doc: any) => void): Manifest {
  const found = manifests.find((m) => m.file === file && m.doc.kind === kind);
  assert.ok(found, `${file} has a ${kind}`);
  const doc = structuredClone(found.doc);
  edit(doc);
  return { file: `mutant:${name}`, index: 0, doc };
}

describe('the manifests under deploy/', () => {
  it('cover Kubernetes, KServe and kustomize kinds', () => {
    const kinds = new Set(manifests.map((m) => m.doc.kind));
    for (const kind of [
      'Deployment',
      'Service',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'ConfigMap',
      'ServiceMonitor',
      'ClusterServingRuntime',
      'InferenceService',
      'Kustomization',
    ]) {
      assert.ok(kinds.has(kind), kind);
    }
  });

  it('are all valid against their schemas, with no unknown field', async () => {
    assert.deepEqual(await checkManifests(manifests), []);
  });

  it('fail on a misspelt field, a wrong type or a value out of an enum, and say where', async () => {
    const deployment = 'deploy/k8s/deployment.yaml';
    const runtime = 'deploy/kserve/cluster-serving-runtime.yaml';
    const isvc = 'deploy/kserve/examples/iris-v2.yaml';
    const cases: [Manifest, RegExp][] = [
      [
        mutant(deployment, 'Deployment', 'probe-typo', (d) => {
          d.spec.template.spec.containers[0].readinessProbe.initialDelaySecond = 3;
        }),
        /mutant:probe-typo.*initialDelaySecond/,
      ],
      [
        mutant(deployment, 'Deployment', 'port-type', (d) => {
          d.spec.template.spec.containers[0].ports[0].containerPort = 'http';
        }),
        /mutant:port-type.*(containerPort|integer|number)/,
      ],
      [
        mutant(deployment, 'Deployment', 'spec-typo', (d) => {
          d.spec.strategey = d.spec.strategy;
        }),
        /mutant:spec-typo.*strategey/,
      ],
      [
        mutant(runtime, 'ClusterServingRuntime', 'formats-typo', (d) => {
          d.spec.supportedModelFormat = d.spec.supportedModelFormats;
        }),
        /mutant:formats-typo.*supportedModelFormat\b/,
      ],
      [
        mutant(runtime, 'ClusterServingRuntime', 'container-typo', (d) => {
          d.spec.containers[0].readinesProbe = d.spec.containers[0].readinessProbe;
        }),
        /mutant:container-typo.*readinesProbe/,
      ],
      [
        mutant(runtime, 'ClusterServingRuntime', 'protocol-enum', (d) => {
          d.spec.protocolVersions.push('v3');
        }),
        /mutant:protocol-enum.*\/spec\/protocolVersions\/3/,
      ],
      [
        mutant(isvc, 'InferenceService', 'storage-typo', (d) => {
          d.spec.predictor.model.storageURI = d.spec.predictor.model.storageUri;
        }),
        /mutant:storage-typo.*storageURI/,
      ],
      [
        mutant('deploy/k8s/servicemonitor.yaml', 'ServiceMonitor', 'monitor-typo', (d) => {
          d.spec.endpoints[0].intervl = '15s';
        }),
        /mutant:monitor-typo.*intervl/,
      ],
      [
        mutant('deploy/k8s/kustomization.yaml', 'Kustomization', 'kustomize-typo', (d) => {
          d.resource = d.resources;
        }),
        /mutant:kustomize-typo.*resource\b/,
      ],
    ];
    const problems = await checkManifests(cases.map(([m]) => m));
    for (const [m, pattern] of cases) {
      assert.ok(
        problems.some((p) => pattern.test(p)),
        `${m.file} is refused: ${pattern} in\n${problems.join('\n')}`,
      );
    }
  });
});
