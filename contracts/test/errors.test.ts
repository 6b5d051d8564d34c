import { readFile } from "node:fs/promises";
import { Interface, type InterfaceAbi } from "ethers";
import { describe, expect, it } from "vitest";
import { CONTRACT_ERROR_CODES, ErrorCode } from "@enigma/protocol";

describe("Enigma custom errors", () => {
  it("every error the contract can revert with has a catalog code in the 2xx chain range or a shared one", async () => {
    const artifact = JSON.parse(
      await readFile("artifacts/contracts/Enigma.sol/Enigma.json", "utf8"),
    ) as { abi: InterfaceAbi };
    const names: string[] = [];
    new Interface(artifact.abi).forEachError((e) => names.push(e.name));
    expect(names.length).toBeGreaterThan(30);
    const shared = new Set<number>([
      ErrorCode.InvalidArgument,
      ErrorCode.InvalidAmount,
      ErrorCode.InvalidConfig,
    ]);
    for (const name of names) {
      // OpenZeppelin errors of admin paths and EIP-712 set-up stay generic (ChainError).
      if (/^(Ownable|SafeERC20|ReentrancyGuard|InvalidShortString|StringTooLong)/.test(name))
        continue;
      const code = CONTRACT_ERROR_CODES[name];
      expect(code, name).toBeDefined();
      if (code === undefined) continue;
      expect(shared.has(code) || (code > 200 && code < 300), `${name} -> ${code}`).toBe(true);
    }
  });
});
