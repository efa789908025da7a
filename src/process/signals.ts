// Stop signals, handled once: however many SIGTERM/SIGINT arrive (a process group's and a supervisor's), one stop.
import { constants } from 'node:os';

export interface StopSignals {
  /** Resolves with the first stop signal. */
  readonly requested: Promise<NodeJS.Signals>;
  /** The first signal, once one came. */
  readonly signal: NodeJS.Signals | undefined;
}

/**
 * Installs SIGTERM and SIGINT handlers for the life of the process, before anything else runs: from then on no stop
 * signal can take the default action (exit at once) while requests are in flight. The first one starts the stop;
 * later ones are only counted (systemd's control-group kill, `kill -- -PGID` and the cluster primary each send one).
 */
export function stopSignals(
  onRepeat: (signal: NodeJS.Signals, count: number) => void = () => undefined,
): StopSignals {
  let first: NodeJS.Signals | undefined;
  let count = 0;
  let resolve: (signal: NodeJS.Signals) => void = () => undefined;
  const requested = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (first !== undefined) {
      onRepeat(signal, count);
      return;
    }
    first = signal;
    resolve(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    requested,
    get signal() {
      return first;
    },
  };
}

/** The exit code a shell gives a process ended by `signal` (143 for SIGTERM). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}
