// Bounds of the public JSON-RPC endpoint that hold whatever a client sends: how many
// connections are open (overall and per remote address), and how many method handlers run at
// once (overall and per address), with a bounded, fair queue for the rest. One address cannot
// take the slots of another: an honest client keeps being served while a hostile one pushes
// every bound.
import { EnigmaError, ErrorCode } from "@enigma/protocol";

/** The remote address a socket counts under: IPv4-mapped IPv6 is its IPv4 address. */
export function addressKey(remote: string | undefined): string {
  if (remote === undefined) return "unknown";
  return remote.startsWith("::ffff:") ? remote.slice("::ffff:".length) : remote;
}

/** Counts open connections, overall and per address, and admits new ones under both caps. */
export class ConnectionGuard {
  readonly max: number;
  readonly maxPerAddress: number;
  readonly #byAddress = new Map<string, number>();
  #total = 0;

  constructor(max: number, maxPerAddress: number) {
    this.max = max;
    this.maxPerAddress = maxPerAddress;
  }

  /** Takes a slot for `address`; false (nothing taken) when either cap is reached. */
  admit(address: string): false | "ok" {
    const mine = this.#byAddress.get(address) ?? 0;
    if (this.#total >= this.max || mine >= this.maxPerAddress) return false;
    this.#byAddress.set(address, mine + 1);
    this.#total++;
    return "ok";
  }

  /** Which cap refuses `address` now, if any. */
  refusal(address: string): "total" | "address" | undefined {
    if (this.#total >= this.max) return "total";
    if ((this.#byAddress.get(address) ?? 0) >= this.maxPerAddress) return "address";
    return undefined;
  }

  release(address: string): void {
    const mine = this.#byAddress.get(address) ?? 0;
    if (mine <= 0) return;
    if (mine === 1) this.#byAddress.delete(address);
    else this.#byAddress.set(address, mine - 1);
    this.#total--;
  }

  get total(): number {
    return this.#total;
  }

  of(address: string): number {
    return this.#byAddress.get(address) ?? 0;
  }
}

export interface CallLimits {
  /** Handlers running at once, overall. */
  maxConcurrent: number;
  /** Handlers running at once for one address (a batch of 100 runs this many at a time). */
  maxConcurrentPerAddress: number;
  /** Calls of one address waiting for a slot; more are refused with `ServerBusy`. */
  maxQueuedPerAddress: number;
}

interface Waiting {
  start: () => void;
}

interface Lane {
  active: number;
  queue: Waiting[];
}

/**
 * Runs method handlers under the call limits. Waiting calls are queued per address; a free
 * slot goes to the address running the fewest, so a flood from one address waits behind
 * itself, not in front of everyone else.
 *
 * @example
 * const limiter = new CallLimiter({ maxConcurrent: 64, maxConcurrentPerAddress: 8, maxQueuedPerAddress: 256 });
 * const result = await limiter.run("127.0.0.1", () => handler(params));
 */
export class CallLimiter {
  readonly limits: Readonly<CallLimits>;
  readonly #lanes = new Map<string, Lane>();
  /** Addresses with waiting calls, in round-robin order. */
  readonly #ready: string[] = [];
  #active = 0;
  /** Called whenever the number of running handlers changes. */
  onActive: (active: number) => void = () => undefined;

  constructor(limits: CallLimits) {
    this.limits = Object.freeze({ ...limits });
  }

  /** Handlers running now. */
  get active(): number {
    return this.#active;
  }

  /** Calls waiting now (all addresses). */
  get queued(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.queue.length;
    return n;
  }

  /**
   * Runs `fn` once a slot is free for `address`. Rejects with `ServerBusy` (nothing run) when
   * the address already has `maxQueuedPerAddress` calls waiting.
   */
  run<T>(address: string, fn: () => Promise<T>): Promise<T> {
    const lane = this.#lane(address);
    if (this.#canStart(lane)) {
      this.#reserve(lane);
      return this.#execute(address, lane, fn);
    }
    if (lane.queue.length >= this.limits.maxQueuedPerAddress) {
      this.#forget(address, lane);
      return Promise.reject(
        new EnigmaError(
          ErrorCode.ServerBusy,
          `too many calls waiting from this address (limit ${this.limits.maxQueuedPerAddress}): retry later`,
          { details: { limit: this.limits.maxQueuedPerAddress } },
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      lane.queue.push({
        start: () => {
          this.#execute(address, lane, fn).then(resolve, reject);
        },
      });
      if (lane.queue.length === 1) this.#ready.push(address);
    });
  }

  #lane(address: string): Lane {
    let lane = this.#lanes.get(address);
    if (lane === undefined) {
      lane = { active: 0, queue: [] };
      this.#lanes.set(address, lane);
    }
    return lane;
  }

  #canStart(lane: Lane): boolean {
    return (
      this.#active < this.limits.maxConcurrent && lane.active < this.limits.maxConcurrentPerAddress
    );
  }

  #reserve(lane: Lane): void {
    lane.active++;
    this.#active++;
    this.onActive(this.#active);
  }

  /** Runs `fn` in a slot reserved for it, and hands the slot on when it ends. */
  async #execute<T>(address: string, lane: Lane, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      lane.active--;
      this.#active--;
      this.onActive(this.#active);
      this.#forget(address, lane);
      this.#next();
    }
  }

  /**
   * Starts waiting calls while slots are free. The next slot goes to the waiting address with
   * the fewest calls running (the earliest in line among equals): an address that just arrived
   * goes before one that holds slots already, so a flood never starves a quiet client.
   */
  #next(): void {
    while (this.#ready.length > 0 && this.#active < this.limits.maxConcurrent) {
      let pick = -1;
      let fewest = this.limits.maxConcurrentPerAddress;
      for (let i = 0; i < this.#ready.length; i++) {
        const active = this.#lanes.get(this.#ready[i] ?? "")?.active ?? 0;
        if (active < fewest) {
          fewest = active;
          pick = i;
        }
      }
      if (pick < 0) return; // every waiting address is at its own cap
      const [address] = this.#ready.splice(pick, 1);
      const lane = address === undefined ? undefined : this.#lanes.get(address);
      const waiting = lane?.queue.shift();
      if (address === undefined || lane === undefined || waiting === undefined) continue;
      if (lane.queue.length > 0) this.#ready.push(address);
      // The slot is taken now; the call starts on the next turn of the event loop, so that
      // requests that arrived meanwhile (an honest client's) are read and queued first, even
      // when the handlers finish without waiting for I/O.
      this.#reserve(lane);
      setImmediate(waiting.start);
    }
  }

  #forget(address: string, lane: Lane): void {
    if (lane.active === 0 && lane.queue.length === 0) this.#lanes.delete(address);
  }
}
