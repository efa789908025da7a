// Triton's schedule policy (dynamic_batching's priority_levels, default_priority_level, default_queue_policy and
// priority_queue_policy) as the batcher applies it: which queue a request waits in, how long it may wait there, and
// what happens when that time is up.
import { errors, excerpt } from '../errors.js';

export interface QueuePolicy {
  /** REJECT: answered 504 at its timeout; DELAY: moved behind every request still in time. */
  timeoutAction: 'REJECT' | 'DELAY';
  /** The timeout of a request that sets none; 0: none. */
  defaultTimeoutUs: number;
  /** A request's own timeout (the lesser of the two) counts. */
  allowTimeoutOverride: boolean;
  /** Most requests waiting at this level; 0: no bound of its own. */
  maxQueueSize: number;
}

export interface SchedulePolicy {
  /** 1 (the highest) to `levels`; 0: priorities are not used, every request waits in one queue. */
  levels: number;
  /** The level of a request that names none (priority 0). */
  defaultLevel: number;
  /** The policy of each level, index 0 unused. */
  queues: QueuePolicy[];
}

/** Triton's defaults: one queue, no timeout of its own, a request's timeout counts. */
export const DEFAULT_QUEUE: QueuePolicy = {
  timeoutAction: 'REJECT',
  defaultTimeoutUs: 0,
  allowTimeoutOverride: true,
  maxQueueSize: 0,
};

export const DEFAULT_SCHEDULE: SchedulePolicy = {
  levels: 0,
  defaultLevel: 0,
  queues: [DEFAULT_QUEUE, DEFAULT_QUEUE],
};

interface QueueConfig {
  timeout_action?: string;
  default_timeout_microseconds?: number;
  allow_timeout_override?: boolean;
  max_queue_size?: number;
}

export interface DynamicBatchingConfig {
  priority_levels?: number;
  default_priority_level?: number;
  default_queue_policy?: QueueConfig;
  priority_queue_policy?: Record<string, QueueConfig>;
}

function queueOf(config: QueueConfig | undefined, base: QueuePolicy): QueuePolicy {
  return {
    timeoutAction: config?.timeout_action === 'DELAY' ? 'DELAY' : base.timeoutAction,
    defaultTimeoutUs: config?.default_timeout_microseconds ?? base.defaultTimeoutUs,
    allowTimeoutOverride: config?.allow_timeout_override ?? base.allowTimeoutOverride,
    maxQueueSize: config?.max_queue_size ?? base.maxQueueSize,
  };
}

/**
 * The policy a configuration's dynamic_batching sets; throws with the field when it cannot be applied (a default
 * level or a level's policy outside 1..priority_levels, as Triton refuses them).
 */
export function schedulePolicy(config: DynamicBatchingConfig | undefined): SchedulePolicy {
  if (config === undefined) return DEFAULT_SCHEDULE;
  const levels = config.priority_levels ?? 0;
  const base = queueOf(config.default_queue_policy, DEFAULT_QUEUE);
  const defaultLevel = config.default_priority_level ?? 0;
  if (levels > 0 && !(defaultLevel >= 1 && defaultLevel <= levels)) {
    throw new Error(
      `dynamic_batching.default_priority_level must be from 1 to priority_levels (${levels}), not ${defaultLevel}`,
    );
  }
  const queues = Array.from({ length: Math.max(levels, 1) + 1 }, () => base);
  for (const [key, policy] of Object.entries(config.priority_queue_policy ?? {})) {
    const level = Number(key);
    if (!(Number.isInteger(level) && level >= 1 && level <= levels)) {
      throw new Error(
        `dynamic_batching.priority_queue_policy[${excerpt(key, 16)}]: no such priority level (1 to ${levels})`,
      );
    }
    queues[level] = queueOf(policy, base);
  }
  return { levels, defaultLevel: levels > 0 ? defaultLevel : 0, queues };
}

/** The queue a request waits in: its priority (1 the highest; 0 the model's default), 0 where priorities are off. */
export function levelOf(policy: SchedulePolicy, priority: number | undefined): number {
  if (policy.levels === 0) return 1;
  if (priority === undefined || priority === 0) return policy.defaultLevel;
  if (priority > policy.levels) {
    throw new errors.INVALID_REQUEST(
      `priority ${priority} is past the model's ${policy.levels} priority levels (1 is the highest)`,
    );
  }
  return priority;
}

/** How long a request may wait at its level, in ms: the level's timeout, or its own where the policy lets it. */
export function queueTimeoutMs(queue: QueuePolicy, timeoutUs: number | undefined): number {
  const own = queue.defaultTimeoutUs > 0 ? queue.defaultTimeoutUs : Infinity;
  const asked = queue.allowTimeoutOverride && timeoutUs !== undefined && timeoutUs > 0 ? timeoutUs : Infinity;
  return Math.min(own, asked) / 1000;
}
