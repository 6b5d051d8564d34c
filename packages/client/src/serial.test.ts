import { describe, expect, it } from "vitest";
import { SerialQueue, withRetries } from "./serial.js";

const retryAll = (e: unknown) => ({ retry: true, error: e });

describe("SerialQueue with retries (how a client records tasks)", () => {
  it("keeps call order when the first record is retried (an epoch changed under it)", async () => {
    const queue = new SerialQueue();
    const recorded: string[] = [];
    let epochChanged = true;
    const record = (name: string) =>
      queue.run(() =>
        withRetries(
          3,
          (attempt) => {
            if (name === "first" && epochChanged) {
              epochChanged = false;
              return Promise.reject(new Error(`WrongEpoch on attempt ${attempt}`));
            }
            recorded.push(`${name}#${attempt}`);
            return Promise.resolve(name);
          },
          retryAll,
        ),
      );
    const all = ["first", "second", "third"].map(record);
    expect(await Promise.all(all)).toEqual(["first", "second", "third"]);
    expect(recorded).toEqual(["first#2", "second#1", "third#1"]);
  });

  it("gives up after max attempts or on a final error, and the line goes on", async () => {
    const queue = new SerialQueue();
    let calls = 0;
    const failing = queue.run(() =>
      withRetries(
        2,
        () => {
          calls++;
          return Promise.reject(new Error("busy"));
        },
        (e) => ({ retry: true, error: new Error(`gave up: ${String(e)}`) }),
      ),
    );
    const final = queue.run(() =>
      withRetries(
        5,
        () => Promise.reject(new Error("reverted")),
        (e) => ({ retry: false, error: e }),
      ),
    );
    const next = queue.run(() => Promise.resolve("next"));
    await expect(failing).rejects.toThrow("gave up: Error: busy");
    expect(calls).toBe(2);
    await expect(final).rejects.toThrow("reverted");
    expect(await next).toBe("next");
  });
});
