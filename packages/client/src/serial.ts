// One-at-a-time sections and retries, as the client records tasks: records of one client are
// serialized (one task nonce and transaction nonce at a time), and a record retried after an
// epoch change keeps its place in line, so tasks are recorded (and run) in the order created.

/** Runs functions one at a time, in the order `run` was called; a failure does not stop the line. */
export class SerialQueue {
  #tail: Promise<void> = Promise.resolve();

  run<T>(f: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(f);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/**
 * Runs `attempt(1)`, `attempt(2)`... until one succeeds, `judge` says an error is final, or
 * `max` attempts failed; then throws the judged error. Inside `SerialQueue.run`, every retry
 * happens before the next queued function starts.
 */
export async function withRetries<T>(
  max: number,
  attempt: (n: number) => Promise<T>,
  judge: (e: unknown) => { retry: boolean; error: unknown },
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      const { retry, error } = judge(e);
      if (!retry || n >= max) throw error;
    }
  }
}
