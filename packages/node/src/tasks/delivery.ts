// How an admitted input travels: straight to the worker it names (request-response, the fast
// path) and on gossip to every node (the broadcast, and the fallback when the direct path fails).
import type { Logger } from "../observability.js";
import type { PeerDirectory } from "../directory.js";
import { PROTOCOLS, TOPICS, encodeMessage, type TaskInput } from "../messages.js";
import type { P2PNetwork } from "../p2p/network.js";

export class InputDelivery {
  readonly #p2p: P2PNetwork;
  readonly #directory: PeerDirectory;
  readonly #log: Logger;

  constructor(p2p: P2PNetwork, directory: PeerDirectory, log: Logger) {
    this.#p2p = p2p;
    this.#directory = directory;
    this.#log = log;
  }

  /** Publishes on the tasks topic (not awaited: a failure is logged). */
  publish(input: TaskInput): void {
    void this.#p2p
      .publish(TOPICS.tasks, encodeMessage(input), { minPeers: 1, timeoutMs: 5_000 })
      .catch((e: unknown) => {
        this.#log.warn({ taskId: input.taskId, err: String(e) }, "task input not gossiped");
      });
  }

  /** Hands the input to the worker it names; rejects with that worker's error. */
  async handOver(input: TaskInput): Promise<void> {
    const peer = await this.#directory.peerOf(input.workerAddress);
    await this.#p2p.request(peer, PROTOCOLS.taskInput, input, { timeoutMs: 10_000 });
  }
}
