import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EventFragment, FunctionFragment, Interface, type JsonFragment, ParamType } from "ethers";
import { describe, expect, it } from "vitest";

// Discovery's client bundles the ABIs it was built against (webpack JSON modules).
const BUNDLE = fileURLToPath(
  new URL("./node_modules/enigma-js/lib/enigma-js.node.js", import.meta.url),
);
const ARTIFACTS = fileURLToPath(new URL("../../artifacts/contracts/", import.meta.url));

const bundle = readFileSync(BUNDLE, "utf8");

function bundledAbi(contractName: string): JsonFragment[] {
  const prefix = `module.exports = JSON.parse("{\\"contractName\\":\\"${contractName}\\"`;
  const line = bundle.split("\n").find((l) => l.startsWith(prefix));
  if (line === undefined) throw new Error(`${contractName} ABI not found in the enigma-js bundle`);
  const literal = line.slice("module.exports = JSON.parse(".length, line.lastIndexOf(");"));
  const artifact = JSON.parse(JSON.parse(literal) as string) as { abi: JsonFragment[] };
  return artifact.abi;
}

function ourAbi(contractName: string): JsonFragment[] {
  const path = `${ARTIFACTS}${contractName}.sol/${contractName}.json`;
  return (JSON.parse(readFileSync(path, "utf8")) as { abi: JsonFragment[] }).abi;
}

/** A type with tuple component names (web3 reads results by those names), not top-level names. */
function shape(p: ParamType): string {
  if (p.isTuple()) return `(${p.components.map((c) => `${shape(c)} ${c.name}`).join(",")})`;
  if (p.isArray()) return `${shape(p.arrayChildren)}[${p.arrayLength < 0 ? "" : p.arrayLength}]`;
  return p.type;
}

/** The functions the client calls: `this.enigmaContract.methods.X(` / `tokenContract.methods.X(`. */
function calledFunctions(): Set<string> {
  return new Set([...bundle.matchAll(/methods\.([A-Za-z_]\w*)\(/g)].map((m) => m[1] ?? ""));
}

/**
 * Bundled functions we deliberately do not provide, with the reason. Everything else the
 * bundle's ABI has, ours has with the same selector, outputs and mutability.
 */
const NOT_PROVIDED: Record<string, Record<string, string>> = {
  Enigma: {
    // Worker-facing: Discovery's one-receipt-per-transaction functions are replaced by the
    // batched, EIP-712-signed `commitReceipts` (DESIGN.md section 4).
    commitReceipt: "replaced by commitReceipts",
    commitTaskFailure: "replaced by commitReceipts",
    deploySecretContract: "replaced by commitReceipts",
    deploySecretContractFailure: "replaced by commitReceipts",
    // Discovery's fixed ring buffer of 5 epochs; every epoch is kept and read by block number
    // through getWorkerParams instead.
    getWorkersParams: "epochs are read with getWorkerParams(blockNumber)",
  },
  EnigmaToken: {
    INITIAL_SUPPLY: "ours is TOTAL_SUPPLY (the client never reads it)",
    increaseAllowance: "removed from OpenZeppelin 5 (the client never calls it)",
    decreaseAllowance: "removed from OpenZeppelin 5 (the client never calls it)",
  },
};

describe.each(["Enigma", "EnigmaToken"])("ABI conformance with enigma-js@0.3.0: %s", (name) => {
  const theirs = Interface.from(bundledAbi(name));
  const ours = Interface.from(ourAbi(name));
  const skipped = NOT_PROVIDED[name] ?? {};

  const theirFunctions: FunctionFragment[] = [];
  theirs.forEachFunction((f) => theirFunctions.push(f));
  const theirEvents: EventFragment[] = [];
  theirs.forEachEvent((e) => theirEvents.push(e));

  it("has every function the client calls (selector, outputs, view-ness)", () => {
    const called = [...calledFunctions()].filter((f) => theirs.getFunction(f) !== null);
    expect(called.length).toBeGreaterThan(name === "Enigma" ? 15 : 1);
    for (const fn of called) {
      expect(skipped[fn], `${fn} is called by the client`).toBeUndefined();
    }
  });

  it.each(theirFunctions.map((f) => [f.format("sighash"), f] as const))(
    "function %s",
    (sighash, theirFn) => {
      const reason = skipped[theirFn.name];
      if (reason !== undefined) {
        expect(ours.getFunction(theirFn.name), `${sighash}: ${reason}`).toBeNull();
        return;
      }
      const ourFn = ours.getFunction(sighash);
      expect(ourFn, `missing ${sighash}`).not.toBeNull();
      if (ourFn === null) return;
      expect(ourFn.selector).toBe(theirFn.selector);
      expect(ourFn.outputs.map(shape)).toEqual(theirFn.outputs.map(shape));
      const isView = (f: FunctionFragment) => f.constant;
      expect(isView(ourFn)).toBe(isView(theirFn));
    },
  );

  it.each(theirEvents.map((e) => [e.format("sighash"), e] as const))(
    "event %s",
    (sighash, theirEv) => {
      const ourEv = ours.getEvent(sighash);
      expect(ourEv, `missing event ${sighash}`).not.toBeNull();
      if (ourEv === null) return;
      expect(ourEv.topicHash).toBe(theirEv.topicHash);
      expect(ourEv.anonymous).toBe(theirEv.anonymous);
      // Indexing decides how a log decodes: it must match input for input.
      expect(ourEv.inputs.map((p) => `${shape(p)}${p.indexed === true ? " indexed" : ""}`)).toEqual(
        theirEv.inputs.map((p) => `${shape(p)}${p.indexed === true ? " indexed" : ""}`),
      );
    },
  );
});
