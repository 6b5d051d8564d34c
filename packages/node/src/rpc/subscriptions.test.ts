import { ErrorCode, isEnigmaError, type Hex } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { TaskSubscriptions } from "./subscriptions.js";

const t1: Hex = `0x${"11".repeat(32)}`;
const t2: Hex = `0x${"22".repeat(32)}`;

describe("TaskSubscriptions", () => {
  it("indexes subscriptions by socket and by task, and forgets a closed socket", () => {
    const subs = new TaskSubscriptions<string>(10);
    const a1 = subs.add("a", t1);
    const a2 = subs.add("a", t2);
    const b1 = subs.add("b", t1);
    expect(new Set([a1, a2, b1]).size).toBe(3);
    expect(subs.subscribers(t1)).toEqual([
      [a1, "a"],
      [b1, "b"],
    ]);

    subs.removeSocket("a");
    expect(subs.subscribers(t1)).toEqual([[b1, "b"]]);
    expect(subs.subscribers(t2)).toEqual([]);
    expect(subs.countOf("a")).toBe(0);
    expect(subs.size).toBe(1);
  });

  it("removes only the caller's own subscription", () => {
    const subs = new TaskSubscriptions<string>(10);
    const a1 = subs.add("a", t1);
    expect(subs.remove("b", a1)).toBe(false);
    expect(subs.remove("a", a1)).toBe(true);
    expect(subs.remove("a", a1)).toBe(false);
    expect(subs.size).toBe(0);
  });

  it("bounds the subscriptions of one socket, not of the server", () => {
    const subs = new TaskSubscriptions<string>(2);
    subs.add("a", t1);
    subs.add("a", t1);
    let err: unknown;
    try {
      subs.add("a", t2);
    } catch (e) {
      err = e;
    }
    expect(isEnigmaError(err, ErrorCode.RpcError)).toBe(true);
    expect(() => subs.add("b", t2)).not.toThrow();
  });
});
