import { MAX_TASK_GAS_LIMIT } from "@enigma/enclave";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_GAS_LIMIT, linkBytecode, readArtifact } from "./deploy.js";

describe("deployEnigma defaults", () => {
  it("the chain's maximum gas limit per task is the enclave's", () => {
    expect(DEFAULT_MAX_GAS_LIMIT).toBe(BigInt(MAX_TASK_GAS_LIMIT));
  });
});

const LIB = "0x00000000000000000000000000000000000000aB";
const placeholder = `__$${"1".repeat(34)}$__`;

describe("linkBytecode", () => {
  const artifact = {
    abi: [],
    bytecode: `0x6001${placeholder}6002${placeholder}`,
    linkReferences: {
      "project/contracts/libraries/Lib.sol": {
        Lib: [
          { start: 2, length: 20 },
          { start: 24, length: 20 },
        ],
      },
    },
  };

  it("puts the library's address at every placeholder", () => {
    const hex = LIB.slice(2).toLowerCase();
    expect(linkBytecode(artifact, { Lib: LIB })).toBe(`0x6001${hex}6002${hex}`);
  });

  it("refuses a missing library, a malformed address and a placeholder that is not 20 bytes", () => {
    expect(() => linkBytecode(artifact, {})).toThrow("bytecode needs library Lib");
    expect(() => linkBytecode(artifact, { Lib: "0x1234" })).toThrow("library Lib: bad address");
    const odd = {
      ...artifact,
      linkReferences: { "x.sol": { Lib: [{ start: 2, length: 19 }] } },
    };
    expect(() => linkBytecode(odd, { Lib: LIB })).toThrow("a 19-byte placeholder");
  });

  it("links the compiled Enigma to its libraries, and Workers to Attestation, leaving no placeholder", async () => {
    const WORKERS = "0x00000000000000000000000000000000000000cD";
    const enigma = await readArtifact("Enigma");
    expect(enigma.bytecode).toContain("__$");
    expect(() => linkBytecode(enigma, { Attestation: LIB, DeltaHashes: LIB })).toThrow(
      "needs library Workers",
    );
    const linked = linkBytecode(enigma, { Attestation: LIB, Workers: WORKERS, DeltaHashes: LIB });
    expect(linked).not.toContain("__$");
    expect(linked).toContain(LIB.slice(2).toLowerCase());
    expect(linked).toContain(WORKERS.slice(2).toLowerCase());
    expect(linked.length).toBe(enigma.bytecode.length);
    const workers = await readArtifact("libraries/Workers");
    expect(linkBytecode(workers, { Attestation: LIB })).not.toContain("__$");
  });
});
