// The execution thread of ThreadExecutor: a ContractRuntime with its compiled modules and copies
// of the contracts' states, running one job per message. Part of the enclave: it holds
// plaintext state, and answers only to the thread that started it.
import { parentPort, workerData } from "node:worker_threads";
import { bytesToHex } from "@enigma/protocol";
import type { ContractState } from "../state/state.js";
import { ErrorCode } from "@enigma/protocol";
import { ContractRuntime, failure, type RuntimeOptions } from "./execute.js";
import { runJob, type ThreadReply, type ThreadRequest } from "./executor.js";

const port = parentPort;
if (port === null) throw new Error("executor-worker runs as a worker thread");
const runtime = new ContractRuntime((workerData as { runtime?: RuntimeOptions }).runtime ?? {});
const states = new Map<string, { version: number; state: ContractState }>();
const known = new Set<string>();

port.on("message", (m: ThreadRequest) => {
  const hash = bytesToHex(m.job.codeHash);
  if (m.module !== undefined) {
    runtime.adopt(m.module);
    known.add(hash);
  }
  let reply: ThreadReply;
  if (m.job.code === undefined && runtime.cached(m.job.codeHash) === undefined) {
    reply = {
      id: m.id,
      result: { ...failure(ErrorCode.MalformedModule, "code not held", 0, []), codeMiss: true },
    };
  } else {
    const fresh = m.job.code !== undefined && !known.has(hash);
    // (the runtime caches what it prepares, so a later job needs only the hash)
    const result = runJob(
      runtime,
      states,
      { ...m.job, code: m.job.code ?? new Uint8Array() },
      m.entries,
    );
    reply = { id: m.id, result };
    if (fresh) {
      // Compiled here for the first time: the module goes back to the executor, which gives it
      // to a thread started later instead of compiling the code again.
      const prepared = runtime.cached(m.job.codeHash);
      if (prepared !== undefined) {
        known.add(hash);
        reply.module = prepared;
      }
    }
  }
  port.postMessage(reply);
});

port.postMessage({ ready: true });
