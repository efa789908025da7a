// The machine's cores, shared by the cluster's serving processes: each tells the others when it starts running
// inference and when it has been idle a while, so that a process alone with work may take every core.
export interface CoreShare {
  /** Whether another serving process runs inference now (or did within the last moments). */
  readonly othersBusy: boolean;
  /** Tells the others that this process started running inference (true), or has been idle a while (false). */
  tell(busy: boolean): void;
}

/** A process with no siblings: the cores are its own. */
export const SOLE_PROCESS: CoreShare = { othersBusy: false, tell: () => undefined };
