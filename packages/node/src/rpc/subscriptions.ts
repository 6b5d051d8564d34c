import { EnigmaError, ErrorCode, type Hex } from "@enigma/protocol";

/**
 * Task-status subscriptions of the WebSocket clients: which socket asked for which task id
 * under which subscription id. Generic over the socket so that it can be tested without one.
 */
export class TaskSubscriptions<S> {
  readonly #maxPerSocket: number;
  // socket -> subscription id -> task id, and task id -> subscribers, kept in step.
  readonly #bySocket = new Map<S, Map<string, Hex>>();
  readonly #byTask = new Map<Hex, Map<string, S>>();
  #next = 0;

  constructor(maxPerSocket: number) {
    this.#maxPerSocket = maxPerSocket;
  }

  /** Subscribes `socket` to `taskId`; returns the new subscription id (`0x1`, `0x2`...). */
  add(socket: S, taskId: Hex): string {
    let mine = this.#bySocket.get(socket);
    if (mine && mine.size >= this.#maxPerSocket) {
      throw new EnigmaError(
        ErrorCode.RpcError,
        `too many subscriptions on this connection (limit ${this.#maxPerSocket}); unsubscribe first`,
        { details: { limit: this.#maxPerSocket } },
      );
    }
    // Ids are unique per server, not secret: `unsubscribe` only finds the caller's own.
    const id = `0x${(++this.#next).toString(16)}`;
    if (!mine) {
      mine = new Map();
      this.#bySocket.set(socket, mine);
    }
    mine.set(id, taskId);
    let subs = this.#byTask.get(taskId);
    if (!subs) {
      subs = new Map();
      this.#byTask.set(taskId, subs);
    }
    subs.set(id, socket);
    return id;
  }

  /** Removes one of `socket`'s subscriptions; false when it has none of that id. */
  remove(socket: S, id: string): boolean {
    const mine = this.#bySocket.get(socket);
    const taskId = mine?.get(id);
    if (!mine || taskId === undefined) return false;
    mine.delete(id);
    if (mine.size === 0) this.#bySocket.delete(socket);
    this.#dropFromTask(taskId, id);
    return true;
  }

  /** Forgets every subscription of a closed socket. */
  removeSocket(socket: S): void {
    const mine = this.#bySocket.get(socket);
    if (!mine) return;
    this.#bySocket.delete(socket);
    for (const [id, taskId] of mine) this.#dropFromTask(taskId, id);
  }

  /** The `[subscription id, socket]` pairs watching `taskId` (a snapshot). */
  subscribers(taskId: Hex): [string, S][] {
    return [...(this.#byTask.get(taskId) ?? [])];
  }

  /** How many subscriptions `socket` holds. */
  countOf(socket: S): number {
    return this.#bySocket.get(socket)?.size ?? 0;
  }

  get size(): number {
    let n = 0;
    for (const m of this.#bySocket.values()) n += m.size;
    return n;
  }

  clear(): void {
    this.#bySocket.clear();
    this.#byTask.clear();
  }

  #dropFromTask(taskId: Hex, id: string): void {
    const subs = this.#byTask.get(taskId);
    subs?.delete(id);
    if (subs?.size === 0) this.#byTask.delete(taskId);
  }
}
