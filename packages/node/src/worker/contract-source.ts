// Where the execution stage gets a contract from: code and deltas from the store (peers first
// when some are missing, the code of a deployment not committed yet included), state keys from
// the principal, and the chain for whether a contract exists at all.
import { TaskResultStatus, type Hex } from "@enigma/protocol";
import type { EnigmaChain } from "../chain/enigma-chain.js";
import type { NodeStore } from "../store/store.js";
import type { DeltaSync } from "../sync.js";
import type { ContractSource } from "./execution.js";
import type { StateKeyClient } from "./state-keys.js";

export function nodeContractSource(o: {
  store: NodeStore;
  chain: Pick<EnigmaChain, "getSecretContract" | "getTaskRecord">;
  sync: Pick<DeltaSync, "catchUp">;
  stateKeys: Pick<StateKeyClient, "ensure">;
  /**
   * A deployment's code this node lacks, from peers (its input, checked against the
   * deployment's verified result); undefined when no peer has it.
   */
  fetchCode?: (contract: Hex) => Promise<Uint8Array | undefined>;
}): ContractSource {
  const { store, chain } = o;
  return {
    code: async (c) => (await store.getCode(c))?.code ?? (await o.fetchCode?.(c)),
    putCode: async (c, code) => {
      await store.putCode(c, code);
    },
    deltaCount: (c) => store.deltaCount(c),
    deltas: (c) => store.getDeltas(c),
    catchUp: (c) => o.sync.catchUp(c),
    ensureStateKeys: (cs) => o.stateKeys.ensure(cs),
    deployment: async (c: Hex) => {
      if ((await chain.getSecretContract(c)) !== undefined) return "deployed";
      // A contract's address is its deployment task's id.
      const record = await chain.getTaskRecord(c);
      if (record === undefined || record.status !== 1) {
        return record?.status === 2 ? "deployed" : "absent";
      }
      // Pending on chain: failed here already (it ran on this worker, or was skipped), or still
      // to run (on this worker, in record order before this task, or elsewhere before an
      // epoch change: its code then comes by gossip).
      // A record of this id that ran here without storing code was no successful deployment
      // (a failed or skipped one, or a compute task).
      const local = await store.getTask(c);
      const done =
        local?.status === TaskResultStatus.Failed ||
        local?.status === TaskResultStatus.EthereumFailure ||
        local?.status === TaskResultStatus.Success;
      return done ? "absent" : "pending";
    },
  };
}
