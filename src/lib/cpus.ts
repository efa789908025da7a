// How many CPUs this process may really use: the cgroup v2 quota (docker --cpus, Kubernetes limits) when set.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** "max 100000" = no quota; "150000 100000" = 1.5 CPUs → 2 workers (never fewer than 1). */
export function quotaCpus(cpuMax: string): number | undefined {
  const [quota, period] = cpuMax.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return undefined;
  const cpus = Number(quota) / Number(period);
  return Number.isFinite(cpus) && cpus > 0 ? Math.max(1, Math.ceil(cpus)) : undefined;
}

export function usableCpus(): number {
  let quota: number | undefined;
  try {
    quota = quotaCpus(readFileSync('/sys/fs/cgroup/cpu.max', 'utf8'));
  } catch {
    quota = undefined; // no cgroup v2 here (macOS, cgroup v1): the host's count is all we know
  }
  return Math.min(availableParallelism(), quota ?? Infinity);
}
