// A warning logged at most once per interval: a Redis outage fails every request, its log must not.

interface WarnLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Returns a reporter that logs `message` with the error's message (no stack) at most every `intervalMs`. */
export function throttledWarning(
  log: WarnLog,
  message: string,
  fields: Record<string, unknown> = {},
  intervalMs = 10_000,
): (err: { message: string }) => void {
  let last = -Infinity;
  return (err) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    log.warn({ ...fields, err: { message: err.message } }, message);
  };
}
