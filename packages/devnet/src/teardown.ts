/**
 * What a bring-up started, stopped in reverse order. One failed stop does not keep the rest
 * from stopping (no process may be left behind); `run()` empties the stack.
 */
export class Teardown {
  readonly #steps: (() => Promise<void>)[] = [];

  push(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await step();
      } catch {
        // Keep stopping the rest.
      }
    }
  }
}
