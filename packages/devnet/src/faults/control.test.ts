import { describe, expect, it } from "vitest";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { checkFaultRequest, parseGroups } from "./control.js";

function code(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    return isEnigmaError(e) ? e.code : -1;
  }
  return undefined;
}

describe("fault requests", () => {
  it("parses partition groups", () => {
    expect(parseGroups("principal,worker-1|worker-2, worker-3")).toEqual([
      ["principal", "worker-1"],
      ["worker-2", "worker-3"],
    ]);
    expect(parseGroups("worker-1")).toEqual([["worker-1"]]);
  });

  it("accepts well-formed requests", () => {
    expect(checkFaultRequest({ kind: "kill", target: "worker-1", forMs: 5000 })).toEqual({
      kind: "kill",
      target: "worker-1",
      forMs: 5000,
    });
    expect(
      checkFaultRequest({ kind: "chain-outage", target: "worker-2", mode: "hang" }),
    ).toMatchObject({
      mode: "hang",
    });
    expect(
      checkFaultRequest({ kind: "kill-at", target: "worker-2", point: "receipt-in-flight" }),
    ).toMatchObject({
      point: "receipt-in-flight",
    });
    expect(checkFaultRequest({ kind: "chaos", target: "seed", steps: 4 })).toMatchObject({
      steps: 4,
    });
  });

  it("refuses malformed ones with FaultSpecInvalid, naming what is wrong", () => {
    for (const r of [
      null,
      { kind: "explode", target: "worker-1" },
      { kind: "kill" },
      { kind: "kill", target: "worker-1", forMs: -1 },
      { kind: "restart", target: "worker-1", forMs: 1000 },
      { kind: "chain-outage", target: "worker-1", mode: "melt" },
      { kind: "slow-chain", target: "worker-1" },
      { kind: "kill-at", target: "worker-1", point: "somewhere" },
      { kind: "chaos", target: "s", steps: 0 },
    ]) {
      expect(
        code(() => checkFaultRequest(r)),
        JSON.stringify(r),
      ).toBe(ErrorCode.FaultSpecInvalid);
    }
  });
});
