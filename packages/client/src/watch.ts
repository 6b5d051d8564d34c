import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  isEnigmaError,
  parseRpcResult,
  type Hex,
  type RpcResult,
} from "@enigma/protocol";
import type { NodeSocket, TaskStatusNotification } from "./ws.js";

/** A node's answer to `getTaskStatus` with the result. */
export type NodeTaskStatus = RpcResult<"getTaskStatus">["result"];

/** What a watch needs: node calls (over the socket when open) and the socket for pushes. */
export interface WatchDeps {
  call: (method: string, params: unknown) => Promise<unknown>;
  socket: NodeSocket | undefined;
  /** Poll interval without pushes, in milliseconds. */
  pollMs: number;
  /**
   * With pushes, the node is still asked this often (a notification lost to a node restart
   * must not cost the task); default 10 x `pollMs`, at least 2 s.
   */
  safetyPollMs?: number;
}

export const DONE_STATUSES: ReadonlySet<string> = new Set([
  TaskResultStatus.Success,
  TaskResultStatus.Failed,
  TaskResultStatus.EthereumFailure,
]);

const noHex = (h: string): string => h.replace(/^0x/, "").toLowerCase();

/**
 * Waits for one task's result at a node: subscribed to its `taskStatus` notifications when the
 * node has a WebSocket (then asked only when told the task is done, and rarely as a safety
 * net), polled otherwise or once the socket is lost. Start it before the task's input is sent,
 * so that no notification can be missed; `ready` resolves once the subscription stands.
 */
export class TaskWatch {
  readonly taskId: Hex;
  readonly worker: Hex;
  /** Resolves once the node confirmed the subscription, or polling was chosen. */
  readonly ready: Promise<void>;
  readonly #deps: WatchDeps;
  #pushed = false;
  #unsubscribe: (() => void) | undefined;
  #cancelled = false;
  #wake: (() => void) | undefined;
  #notified: TaskStatusNotification | undefined;
  readonly #checkFirst: boolean;

  /** `checkFirst`: ask the node once before waiting (the input may have been sent already). */
  constructor(deps: WatchDeps, taskId: Hex, worker: Hex, checkFirst = false) {
    this.#deps = deps;
    this.taskId = taskId;
    this.worker = worker;
    this.#checkFirst = checkFirst;
    this.ready = this.#subscribe();
  }

  /** Whether the node pushes this task's status (false: polling). */
  get pushed(): boolean {
    return this.#pushed;
  }

  async #subscribe(): Promise<void> {
    const socket = this.#deps.socket;
    if (socket === undefined) return;
    const unsubscribe = await socket.subscribe(this.taskId, {
      onStatus: (n) => {
        this.#notified = n;
        this.#poke();
      },
      onLost: () => {
        this.#pushed = false;
        this.#unsubscribe = undefined;
        this.#poke();
      },
    });
    if (unsubscribe === undefined) return;
    if (this.#cancelled) {
      unsubscribe();
      return;
    }
    this.#unsubscribe = unsubscribe;
    this.#pushed = true;
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /**
   * Resolves with the node's status and encrypted output once the task is done (`SUCCESS`,
   * `FAILED`, `ETHEREUMFAILURE`); `PeerTimeout` after `timeoutMs`.
   */
  async done(timeoutMs: number): Promise<NodeTaskStatus> {
    await this.ready;
    const until = Date.now() + timeoutMs;
    const safety = this.#deps.safetyPollMs ?? Math.max(2_000, this.#deps.pollMs * 10);
    let ask = !this.#pushed || this.#checkFirst;
    let last: string = TaskResultStatus.Unverified;
    try {
      for (;;) {
        if (this.#cancelled) {
          throw new EnigmaError(ErrorCode.PeerTimeout, `stopped waiting for task ${this.taskId}`);
        }
        const n = this.#notified;
        this.#notified = undefined;
        if (n !== undefined && DONE_STATUSES.has(n.status)) {
          if (n.output !== undefined) {
            // Validated as the node's getTaskStatus answer would be.
            return parseRpcResult("getTaskStatus", {
              result: { status: n.status, output: n.output },
            }).result;
          }
          ask = true;
        }
        if (ask) {
          const s = await this.#ask();
          if (s !== undefined) {
            last = s.status;
            if (DONE_STATUSES.has(s.status)) return s;
          }
        }
        const left = until - Date.now();
        if (left <= 0) {
          throw new EnigmaError(ErrorCode.PeerTimeout, `task ${this.taskId} has no result yet`, {
            details: { taskId: this.taskId, status: last },
          });
        }
        const pause = Math.min(left, this.#pushed ? safety : this.#deps.pollMs);
        const woken = await this.#sleep(pause);
        // Polling asks every time; with pushes only when told, or when the safety net is due.
        ask = !this.#pushed || !woken;
      }
    } finally {
      this.cancel();
    }
  }

  /** The node's status with the output; undefined while the node does not know the task. */
  async #ask(): Promise<NodeTaskStatus | undefined> {
    try {
      const raw = await this.#deps.call("getTaskStatus", {
        taskId: noHex(this.taskId),
        workerAddress: noHex(this.worker),
        withResult: true,
      });
      return parseRpcResult("getTaskStatus", raw).result;
    } catch (e) {
      // A gateway hears of a task with its input; a result may reach it before that.
      if (isEnigmaError(e, ErrorCode.TaskUnknown)) return undefined;
      throw e;
    }
  }

  /** Resolves true when poked (a notification, a lost socket), false after `ms`. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#notified !== undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Stops listening (idempotent); a pending `done()` rejects. */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#poke();
  }
}
