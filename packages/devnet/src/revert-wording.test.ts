import { describe, expect, it } from "vitest";
import { ganacheRevertMessage } from "./revert-wording.js";

describe("ganacheRevertMessage", () => {
  it("words a reason-string revert as Ganache did (what enigma-js compares), and leaves others", () => {
    expect(
      ganacheRevertMessage(
        "VM Exception while processing transaction: reverted with reason string 'Wrong epoch for this task'",
      ),
    ).toBe("VM Exception while processing transaction: revert Wrong epoch for this task");
    const custom =
      "VM Exception while processing transaction: reverted with custom error 'NoEpoch()'";
    expect(ganacheRevertMessage(custom)).toBe(custom);
  });
});
