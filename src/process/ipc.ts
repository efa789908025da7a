// The cluster's broadcast over Node's IPC channel: a worker's request (a model load, a statistics or metrics scrape)
// goes to the primary, which asks every serving worker (the sender included) and sends back all their replies.
// The primary also remembers the last load or unload of each model, and the log and trace settings, and replays them to every
// worker it starts; and it tells each worker whether the others run inference (the core's CoreShare).
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { errors } from '../core/errors.js';
import type { Broadcast, ClusterReply, ClusterRequest } from '../core/cluster.js';
import type { CoreShare } from '../core/runtime/core-share.js';

/** How long a load or unload may take in every worker (a large model loads and warms up), and anything else. */
const CHANGE_TIMEOUT_MS = 300_000;
const READ_TIMEOUT_MS = 10_000;

const timeoutOf = (request: ClusterRequest) =>
  request.kind === 'load' || request.kind === 'unload' ? CHANGE_TIMEOUT_MS : READ_TIMEOUT_MS;

type Message =
  /** worker → primary: ask every worker. */
  | { serval: 'broadcast'; id: string; request: ClusterRequest }
  /** primary → worker: answer this. */
  | { serval: 'handle'; id: string; request: ClusterRequest }
  /** worker → primary: the answer. */
  | { serval: 'handled'; id: string; reply: ClusterReply }
  /** primary → worker: every worker's answers. */
  | { serval: 'replies'; id: string; replies: ClusterReply[] }
  /** worker → primary: it can answer requests now; primary → worker: the changes made before it started. */
  | { serval: 'serving' }
  | { serval: 'replay'; requests: ClusterRequest[] }
  /** worker → primary: it started running inference, or has been idle a while; primary → worker: how many others run. */
  | { serval: 'busy'; busy: boolean }
  | { serval: 'others-busy'; count: number };

function isMessage(value: unknown): value is Message {
  return (
    typeof value === 'object' && value !== null && typeof (value as { serval?: unknown }).serval === 'string'
  );
}

export interface WorkerChannel {
  /** The core's broadcast: through the primary to every worker. */
  broadcast: (handle: (request: ClusterRequest) => Promise<ClusterReply>) => Broadcast;
  /** The loads and unloads made in the cluster before this worker started, once the core can take them. */
  replay(): Promise<ClusterRequest[]>;
  /** The other workers' use of the cores, as the primary last told it. */
  share: CoreShare;
}

/** A cluster worker's side. */
export function workerChannel(): WorkerChannel {
  const waiting = new Map<string, { resolve: (replies: ClusterReply[]) => void; timer: NodeJS.Timeout }>();
  let replayed: (requests: ClusterRequest[]) => void = () => undefined;
  const replay = new Promise<ClusterRequest[]>((resolve) => (replayed = resolve));
  let handle: ((request: ClusterRequest) => Promise<ClusterReply>) | undefined;
  let othersBusy = 0;
  const share: CoreShare = {
    get othersBusy() {
      return othersBusy > 0;
    },
    // An idle timer may fire after the primary is gone (shutdown): there is no one left to tell.
    tell: (busy) => {
      if (process.connected) process.send?.({ serval: 'busy', busy } satisfies Message);
    },
  };

  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.serval === 'handle' && handle) {
      const { id, request } = message;
      void handle(request).then((reply) =>
        process.send?.({ serval: 'handled', id, reply } satisfies Message),
      );
    } else if (message.serval === 'replies') {
      const entry = waiting.get(message.id);
      if (entry === undefined) return;
      waiting.delete(message.id);
      clearTimeout(entry.timer);
      entry.resolve(message.replies);
    } else if (message.serval === 'replay') {
      replayed(message.requests);
    } else if (message.serval === 'others-busy') {
      othersBusy = message.count;
    }
  });

  return {
    broadcast(handler) {
      handle = handler;
      process.send?.({ serval: 'serving' } satisfies Message);
      return (request) =>
        new Promise((resolve, reject) => {
          const id = randomUUID();
          const seconds = timeoutOf(request) / 1000;
          // The primary answers within its own timeout; this one only covers a primary that is gone.
          const timer = setTimeout(
            () => {
              waiting.delete(id);
              reject(new errors.WORKERS_UNAVAILABLE(seconds, 'the primary did not answer'));
            },
            timeoutOf(request) + 5_000,
          );
          timer.unref();
          waiting.set(id, { resolve, timer });
          process.send?.({ serval: 'broadcast', id, request } satisfies Message);
        });
    },
    replay: () => replay,
    share,
  };
}

interface Pending {
  origin: Worker;
  /** Workers yet to answer, by id. */
  expected: Set<number>;
  replies: ClusterReply[];
  timer: NodeJS.Timeout;
  seconds: number;
}

export interface PrimaryHubOptions {
  log: Logger;
  /** Answers the primary adds to a request of its own (its worker-restart counter for a metrics scrape). */
  own?: (request: ClusterRequest) => ClusterReply | undefined;
}

/** Where the primary keeps the log settings among the model changes it replays (no model name has a slash). */
const LOGGING = 'logging/';
/** The trace settings, global (`trace/`) and per model (`trace/<model>`). */
const TRACE = 'trace/';

/** The primary's side: relays broadcasts and remembers the model changes for the workers it starts later. */
export class PrimaryHub {
  #serving = new Map<number, Worker>();
  #pending = new Map<string, Pending>();
  /** The last load or unload of each model, in the order they were made. */
  #changes = new Map<string, ClusterRequest>();
  /** Every worker attached, and those that run inference now. */
  #attached = new Map<number, Worker>();
  #busy = new Set<number>();
  #options: PrimaryHubOptions;

  constructor(options: PrimaryHubOptions) {
    this.#options = options;
  }

  /** Listens to a worker just forked. */
  attach(worker: Worker): void {
    this.#attached.set(worker.id, worker);
    worker.on('message', (message: unknown) => {
      if (!isMessage(message)) return;
      if (message.serval === 'busy') {
        this.#setBusy(worker.id, message.busy);
      } else if (message.serval === 'serving') {
        this.#serving.set(worker.id, worker);
        worker.send({ serval: 'replay', requests: [...this.#changes.values()] } satisfies Message);
        this.#tellOthersBusy(worker);
      } else if (message.serval === 'broadcast') {
        this.#broadcast(worker, message.id, message.request);
      } else if (message.serval === 'handled') {
        this.#handled(worker.id, message.id, message.reply);
      }
    });
    worker.on('exit', () => {
      this.#serving.delete(worker.id);
      this.#attached.delete(worker.id);
      this.#setBusy(worker.id, false);
      // A worker that died answers no more; its successor gets the changes by replay.
      for (const [id, pending] of this.#pending) {
        if (pending.expected.delete(worker.id)) this.#finishIfDone(id, pending);
      }
    });
  }

  /** Tells every worker how many others run inference, when that changes. */
  #setBusy(id: number, busy: boolean): void {
    if (busy === this.#busy.has(id)) return;
    if (busy) this.#busy.add(id);
    else this.#busy.delete(id);
    for (const worker of this.#attached.values()) if (worker.isConnected()) this.#tellOthersBusy(worker);
  }

  /** Tells a worker how many of the others run inference now. */
  #tellOthersBusy(worker: Worker): void {
    const count = this.#busy.size - (this.#busy.has(worker.id) ? 1 : 0);
    worker.send({ serval: 'others-busy', count } satisfies Message);
  }

  #broadcast(origin: Worker, id: string, request: ClusterRequest): void {
    if (request.kind === 'load' || request.kind === 'unload') {
      this.#changes.delete(request.name); // re-inserted last: replayed in the order they were made
      this.#changes.set(request.name, request);
    } else if (request.kind === 'logging') {
      // Log settings add up: a worker started later gets all of them at once. The key names no model.
      const before = this.#changes.get(LOGGING);
      const settings = { ...(before?.kind === 'logging' ? before.settings : {}), ...request.settings };
      this.#changes.set(LOGGING, { kind: 'logging', settings });
    } else if (request.kind === 'trace') {
      // Trace settings add up too, globally and per model (null, a reset, is kept: it undoes what came before).
      const key = `${TRACE}${request.model ?? ''}`;
      const before = this.#changes.get(key);
      const settings = { ...(before?.kind === 'trace' ? before.settings : {}), ...request.settings };
      this.#changes.set(key, { ...request, settings });
    }
    const targets = [...this.#serving.values()];
    const own = this.#options.own?.(request);
    const timer = setTimeout(() => this.#timedOut(id), timeoutOf(request));
    timer.unref();
    const pending: Pending = {
      origin,
      expected: new Set(targets.map((w) => w.id)),
      replies: own ? [own] : [],
      timer,
      seconds: timeoutOf(request) / 1000,
    };
    this.#pending.set(id, pending);
    for (const worker of targets) {
      if (!worker.isConnected()) {
        pending.expected.delete(worker.id);
        continue;
      }
      worker.send({ serval: 'handle', id, request } satisfies Message);
    }
    this.#finishIfDone(id, pending);
  }

  #handled(workerId: number, id: string, reply: ClusterReply): void {
    const pending = this.#pending.get(id);
    if (!pending?.expected.delete(workerId)) return;
    pending.replies.push(reply);
    this.#finishIfDone(id, pending);
  }

  #finishIfDone(id: string, pending: Pending): void {
    if (pending.expected.size > 0) return;
    this.#send(id, pending);
  }

  #timedOut(id: string): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    const missing = [...pending.expected].map((w) => this.#serving.get(w)?.process.pid ?? 0);
    this.#options.log.error({ workers: missing }, 'workers did not answer a cluster request in time');
    for (const pid of missing) {
      const error = new errors.WORKERS_UNAVAILABLE(pending.seconds, `pid ${pid}`);
      pending.replies.push({ pid, error: { code: error.code, kind: error.kind, message: error.message } });
    }
    this.#send(id, pending);
  }

  #send(id: string, pending: Pending): void {
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    if (pending.origin.isConnected()) {
      pending.origin.send({ serval: 'replies', id, replies: pending.replies } satisfies Message);
    }
  }
}

/** The primary's own answer to a metrics scrape: how many workers it restarted. */
export function restartsReply(restarts: number): ClusterReply {
  return {
    pid: process.pid,
    value: {
      serval: [
        {
          name: 'serval_worker_restarts_total',
          help: 'Workers that died and were started again by the primary.',
          type: 'counter',
          aggregator: 'sum',
          values: [{ value: restarts, labels: {} }],
        },
      ],
      process: [],
    },
  };
}
