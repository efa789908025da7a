// Checks manifests against the Kubernetes API schemas (kubernetes-models), KServe's CRDs (JSON Schema subsets
// in schemas/) and, for misspelt fields, TypeScript's excess-property check over kubernetes-models' interfaces.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

const HERE = new URL('.', import.meta.url).pathname;

export interface Manifest {
  /** Path from the repository root. */
  file: string;
  /** Position of the document in its file, from 0. */
  index: number;
  doc: Record<string, unknown>;
}

/** Every YAML document under `dir`, parsed as Kubernetes does (YAML 1.1: `0440` is octal, `no` is false). */
export function loadManifests(root: string, dir: string): Manifest[] {
  const manifests: Manifest[] = [];
  const files = readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  for (const name of files) {
    const file = relative(root, join(root, dir, name));
    parseAllDocuments(readFileSync(join(root, file), 'utf8'), { version: '1.1' }).forEach(
      (document, index) => {
        if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message ?? ''}`);
        const doc: unknown = document.toJS();
        if (doc !== null && typeof doc === 'object')
          manifests.push({ file, index, doc: doc as Manifest['doc'] });
      },
    );
  }
  return manifests;
}

/** The Kubernetes kinds Serval ships, by apiVersion/kind: the kubernetes-models module that models each. */
const KINDS: Record<string, string> = {
  'v1/Namespace': 'kubernetes-models/v1/Namespace',
  'v1/ServiceAccount': 'kubernetes-models/v1/ServiceAccount',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'v1/Secret': 'kubernetes-models/v1/Secret',
  'v1/Service': 'kubernetes-models/v1/Service',
  'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
  'autoscaling/v2/HorizontalPodAutoscaler': 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
  'networking.k8s.io/v1/NetworkPolicy': 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
  'monitoring.coreos.com/v1/ServiceMonitor':
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
};

/** Kinds with a JSON Schema of their own here: KServe's CRDs and kustomize's Kustomization. */
const SCHEMAS: Record<string, string> = {
  'serving.kserve.io/v1alpha1/ClusterServingRuntime': 'kserve-servingruntime.schema.json',
  'serving.kserve.io/v1alpha1/ServingRuntime': 'kserve-servingruntime.schema.json',
  'serving.kserve.io/v1beta1/InferenceService': 'kserve-inferenceservice.schema.json',
  'kustomize.config.k8s.io/v1beta1/Kustomization': 'kustomization.schema.json',
};

type ModelClass = new (data: unknown) => { validate(): void };

/** A value to type-check as the interface of a kubernetes-models module (`I` + the module's last segment). */
interface Fragment {
  module: string;
  value: unknown;
  where: string;
}

/** Every value of a `k8s` keyword in a schema: the modules to load before validating synchronously. */
function k8sModules(schema: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const item of schema) k8sModules(item, found);
  else if (schema !== null && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      if (key === 'k8s' && typeof value === 'string') found.add(value);
      else k8sModules(value, found);
    }
  }
  return found;
}

async function loadModel(module: string): Promise<ModelClass> {
  const name = module.split('/').at(-1)!;
  const exports = (await import(module)) as Record<string, ModelClass | undefined>;
  const model = exports[name];
  if (model === undefined) throw new Error(`${module} has no ${name}`);
  return model;
}

/** Runs a kubernetes-models validator; its message, or undefined when the value is valid. */
function modelProblem(model: ModelClass, value: unknown): string | undefined {
  try {
    new model(value).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Validates every manifest; returns one line per problem ("file#doc Kind /path: message"), none when all pass. */
export async function checkManifests(manifests: Manifest[]): Promise<string[]> {
  const problems: string[] = [];
  const fragments: Fragment[] = [];
  const schemas = new Map<string, unknown>();
  for (const file of new Set(Object.values(SCHEMAS))) {
    schemas.set(file, JSON.parse(readFileSync(join(HERE, 'schemas', file), 'utf8')));
  }
  const models = new Map<string, ModelClass>();
  for (const module of new Set([...Object.values(KINDS), ...k8sModules([...schemas.values()])])) {
    models.set(module, await loadModel(module));
  }

  let current = '';
  const ajv = new Ajv({ allErrors: true, strict: true });
  const k8s: SchemaValidateFunction = (module: string, data: unknown, _schema, context) => {
    const path = context?.instancePath ?? '';
    fragments.push({ module, value: data, where: `${current}${path}` });
    const problem = modelProblem(models.get(module)!, data);
    if (problem === undefined) return true;
    k8s.errors = [{ keyword: 'k8s', message: problem.replace(/\bdata\b\/?/g, `${path}/`), params: {} }];
    return false;
  };
  ajv.addKeyword({ keyword: 'k8s', schemaType: 'string', validate: k8s, errors: true });
  const validators = new Map<string, ValidateFunction>();
  for (const [file, schema] of schemas) validators.set(file, ajv.compile(schema as object));

  for (const { file, index, doc } of manifests) {
    const kind = `${String(doc.apiVersion)}/${String(doc.kind)}`;
    current = `${file}#${index} ${String(doc.kind)} `;
    const module = KINDS[kind];
    const schemaFile = SCHEMAS[kind];
    if (module !== undefined) {
      const problem = modelProblem(models.get(module)!, doc);
      if (problem !== undefined) problems.push(`${current}${problem.replace(/\bdata\b\/?/g, '/')}`);
      fragments.push({ module, value: doc, where: current.trimEnd() });
    } else if (schemaFile !== undefined) {
      const validate = validators.get(schemaFile)!;
      if (!validate(doc)) {
        for (const e of validate.errors ?? []) {
          const extra =
            e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : '';
          problems.push(`${current}${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`);
        }
      }
    } else {
      problems.push(`${current}: no schema for ${kind}`);
    }
  }
  return [...problems, ...typeProblems(fragments)];
}

/**
 * The Kubernetes OpenAPI schemas allow unknown fields (the API server drops them, silently or with a warning), so
 * a misspelt `initialDelaySecond` would pass them. kubernetes-models' interfaces list every field: each value is
 * written as a TypeScript object literal of its interface, and the compiler's excess-property check names the typo.
 */
function typeProblems(fragments: Fragment[]): string[] {
  if (fragments.length === 0) return [];
  const file = join(HERE, '__manifests__.ts'); // never written: served to the compiler from memory
  const aliases = new Map<string, string>();
  for (const { module } of fragments) if (!aliases.has(module)) aliases.set(module, `T${aliases.size}`);
  const lines = [...aliases].map(
    ([module, alias]) => `import type { I${module.split('/').at(-1)!} as ${alias} } from '${module}';`,
  );
  const spans: { from: number; to: number; where: string }[] = [];
  fragments.forEach((fragment, i) => {
    const json = JSON.stringify(fragment.value, null, 1).split('\n');
    spans.push({ from: lines.length, to: lines.length + json.length - 1, where: fragment.where });
    lines.push(`export const f${i}: ${aliases.get(fragment.module)!} = ${json[0] ?? ''}`, ...json.slice(1));
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== file || d.start === undefined) return `typescript: ${message}`;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const span = spans.find((s) => line >= s.from && line <= s.to);
    return `${span?.where ?? file} (${lines[line]?.trim() ?? ''}): ${message}`;
  });
}
