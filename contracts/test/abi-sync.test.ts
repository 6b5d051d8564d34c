import { readFile } from "node:fs/promises";
import { Interface } from "ethers";
import { describe, expect, it } from "vitest";
import { ENIGMA_ABI } from "@enigma/protocol";
import { ABI_MODULE, renderAbiModule } from "../../scripts/gen-abi.js";

describe("ABIs exported by @enigma/protocol", () => {
  it("match the compiled contracts (regenerate with scripts/gen-abi.ts)", async () => {
    expect(await readFile(ABI_MODULE, "utf8")).toBe(await renderAbiModule());
  });

  it("carry the client-facing and worker-facing entry points", () => {
    const i = new Interface(ENIGMA_ABI);
    for (const sig of [
      "createTaskRecord(bytes32,uint64,uint64,uint256)",
      "createDeploymentTaskRecord(bytes32,uint64,uint64,uint256,uint256)",
      "commitReceipts((bytes32,bytes32,bytes32,bytes32,uint64,bytes32,bytes32,uint64,bool,bytes32,bytes32,address,bytes)[],bytes)",
      "setWorkersParams(uint256,uint256,bytes)",
      "getWorkerParams(uint256)",
    ]) {
      expect(i.getFunction(sig), sig).not.toBeNull();
    }
  });
});
