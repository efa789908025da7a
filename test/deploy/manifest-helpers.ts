// Looking things up in the parsed manifests: one document by kind and name, a container's env, probes, ports.
import assert from 'node:assert/strict';
import { configKeys, envName } from '../../src/config/create-config.js';
import type { Manifest } from './validate.js';

/** SERVAL_* variables the manifests may set: every config key's and SERVAL_CONFIG. */
export const KNOWN_ENV = new Set([...configKeys.map(envName), 'SERVAL_CONFIG']);

export function find(manifests: Manifest[], kind: string, name?: string): any {
  const found = manifests.filter(
    (m) => m.doc.kind === kind && (name === undefined || (m.doc.metadata as any)?.name === name),
  );
  assert.equal(found.length, 1, `one ${kind}${name === undefined ? '' : ` ${name}`}`);
  return found[0]!.doc;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: any;
}

/** A container's env as name → entry. */
export function envOf(container: { env?: EnvVar[] }): Map<string, EnvVar> {
  return new Map((container.env ?? []).map((e) => [e.name, e]));
}

/** Plain values of a container's SERVAL_* env, with a stand-in for each one taken from a Secret or a field. */
export function servalEnv(container: { env?: EnvVar[] }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (!e.name.startsWith('SERVAL_')) continue;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.resourceFieldRef) env[e.name] = '2';
    else if (e.valueFrom?.secretKeyRef) env[e.name] = 'redis://redis.example:6379/0';
  }
  return env;
}
