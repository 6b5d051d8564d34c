// The nemesis from another process: `enigma devnet up` serves this small HTTP endpoint on
// loopback (its URL goes into devnet.json as `faultsUrl`), and `enigma devnet fault <kind>
// <target> [--for DURATION]` posts to it. The devnet's own process applies the fault (it owns
// the node processes, their chain proxies and the namespaces) and, with a duration, undoes it
// when the time is up: a killed node restarts, a paused one resumes, a partition heals, a
// chain endpoint is restored.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EnigmaError, ErrorCode, isEnigmaError } from "@enigma/protocol";
import { chaosSchedule, runChaos } from "./chaos.js";
import { FAULT_REQUEST_KINDS, KILL_POINTS, type FaultKind, type KillPoint } from "./kinds.js";
import type { FaultEvent, Nemesis } from "./nemesis.js";

/** What `enigma devnet fault` sends. */
export interface FaultRequest {
  /** A fault, or `chaos`: a seeded schedule run in the background (target: the seed). */
  kind: FaultKind | "chaos";
  /**
   * A node name; for `partition`, groups of names: `a,b|c,d` (nodes no group names form one
   * more group); for `heal`, anything (`all`).
   */
  target: string;
  /** Undo after this many ms (not for restart, resume, heal, restore-chain). */
  forMs?: number;
  /** `chain-outage`: `refuse` (default) or `hang`. */
  mode?: "refuse" | "hang";
  /** `slow-chain`: added latency, ms. */
  latencyMs?: number;
  /** `kill-at`: where. */
  point?: KillPoint;
  /** `chaos`: how many faults (default 10). */
  steps?: number;
}

export interface FaultAnswer {
  event: FaultEvent;
  /** When the fault will be undone (ms since the epoch), with `forMs`. */
  undoAt?: number;
}

const NO_DURATION: ReadonlySet<FaultKind> = new Set(["restart", "resume", "heal", "restore-chain"]);

/** Parses `a,b|c,d` into groups. */
export function parseGroups(target: string): string[][] {
  return target
    .split("|")
    .map((g) =>
      g
        .split(",")
        .map((n) => n.trim())
        .filter((n) => n.length > 0),
    )
    .filter((g) => g.length > 0);
}

/** Checks a request's shape (FaultSpecInvalid names what is wrong). */
export function checkFaultRequest(r: unknown): FaultRequest {
  const o = (typeof r === "object" && r !== null ? r : {}) as Record<string, unknown>;
  const bad = (message: string) =>
    new EnigmaError(ErrorCode.FaultSpecInvalid, message, { details: { request: o } });
  const kinds: readonly string[] = FAULT_REQUEST_KINDS;
  if (typeof o["kind"] !== "string" || !kinds.includes(o["kind"])) {
    throw bad(`fault kind must be one of ${kinds.join(", ")}`);
  }
  const kind = o["kind"] as FaultRequest["kind"];
  if (typeof o["target"] !== "string" || o["target"].length === 0 || o["target"].length > 1000) {
    throw bad("target must name a node (or groups a,b|c,d for a partition)");
  }
  const forMs = o["forMs"];
  if (forMs !== undefined) {
    if (typeof forMs !== "number" || !Number.isFinite(forMs) || forMs <= 0 || forMs > 86_400_000) {
      throw bad("--for must be a duration between 1 ms and 24 h");
    }
    if (kind !== "chaos" && NO_DURATION.has(kind)) throw bad(`${kind} takes no --for`);
  }
  const mode = o["mode"];
  if (mode !== undefined && mode !== "refuse" && mode !== "hang") {
    throw bad("chain-outage mode must be refuse or hang");
  }
  const latencyMs = o["latencyMs"];
  if (kind === "slow-chain" && (typeof latencyMs !== "number" || latencyMs < 0)) {
    throw bad("slow-chain needs a latency in ms");
  }
  const point = o["point"];
  if (kind === "kill-at" && !(KILL_POINTS as readonly unknown[]).includes(point)) {
    throw bad(`kill-at needs a point: ${KILL_POINTS.join(", ")}`);
  }
  const steps = o["steps"];
  if (
    steps !== undefined &&
    (typeof steps !== "number" || !Number.isInteger(steps) || steps < 1 || steps > 10_000)
  ) {
    throw bad("chaos steps must be 1 to 10000");
  }
  return {
    kind,
    target: o["target"],
    ...(typeof steps === "number" ? { steps } : {}),
    ...(typeof forMs === "number" ? { forMs } : {}),
    ...(mode === undefined ? {} : { mode }),
    ...(typeof latencyMs === "number" ? { latencyMs } : {}),
    ...(kind === "kill-at" ? { point: point as KillPoint } : {}),
  };
}

/** Applies one request to the nemesis and schedules its undo. */
export async function applyFault(
  nemesis: Nemesis,
  r: FaultRequest,
  later: (ms: number, undo: () => Promise<unknown>) => void,
): Promise<FaultAnswer> {
  const t = r.target;
  if (r.kind === "chaos")
    throw new EnigmaError(ErrorCode.FaultSpecInvalid, "chaos runs on the control server");
  let event: FaultEvent;
  let undo: (() => Promise<unknown>) | undefined;
  switch (r.kind) {
    case "kill":
      event = await nemesis.kill(t);
      undo = () => nemesis.restart(t);
      break;
    case "restart":
      event = await nemesis.restart(t);
      break;
    case "pause":
      event = await nemesis.pause(t);
      undo = () => nemesis.resume(t);
      break;
    case "resume":
      event = await nemesis.resume(t);
      break;
    case "partition":
      event = await nemesis.partition(parseGroups(t));
      undo = () => nemesis.heal();
      break;
    case "isolate":
      event = await nemesis.isolate(t);
      undo = () => nemesis.heal();
      break;
    case "heal":
      event = await nemesis.heal();
      break;
    case "chain-outage":
      event = await nemesis.chainOutage(t, r.mode ?? "refuse");
      undo = () => nemesis.restoreChain(t);
      break;
    case "slow-chain":
      event = await nemesis.slowChain(t, r.latencyMs ?? 0);
      undo = () => nemesis.restoreChain(t);
      break;
    case "restore-chain":
      event = await nemesis.restoreChain(t);
      break;
    case "kill-at": {
      const armed = await nemesis.killAt(t, r.point ?? "task-stored");
      event = armed.armed;
      if (r.forMs !== undefined) {
        const forMs = r.forMs;
        // The node stays down for the duration after it died, then starts again.
        void armed.fired.then((fired) => {
          if (fired !== undefined) later(forMs, () => nemesis.restart(t));
        });
      }
      return { event };
    }
  }
  if (r.forMs !== undefined && undo !== undefined) {
    later(r.forMs, undo);
    return { event, undoAt: Date.now() + r.forMs };
  }
  return { event };
}

/** The endpoint `enigma devnet up` serves. */
export class FaultControlServer {
  readonly #nemesis: Nemesis;
  readonly #timers = new Set<NodeJS.Timeout>();
  #chaos: AbortController | undefined;
  #server: Server | undefined;
  #url: string | undefined;

  constructor(nemesis: Nemesis) {
    this.#nemesis = nemesis;
  }

  get url(): string {
    if (this.#url === undefined) throw new Error("the fault control server is not started");
    return this.#url;
  }

  async start(host = "127.0.0.1", port = 0): Promise<void> {
    const server = createServer((req, res) => {
      void this.#serve(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    this.#url = `http://${a.address}:${a.port}`;
    this.#server = server;
  }

  async stop(): Promise<void> {
    this.#chaos?.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((r) =>
      server.close(() => {
        r();
      }),
    );
  }

  /** Starts a seeded schedule in the background (one at a time); --for ends it early. */
  #startChaos(r: FaultRequest): FaultAnswer {
    if (this.#chaos !== undefined && !this.#chaos.signal.aborted) {
      throw new EnigmaError(ErrorCode.FaultSpecInvalid, "a chaos schedule is running already");
    }
    const stop = new AbortController();
    this.#chaos = stop;
    const steps = chaosSchedule({
      seed: r.target,
      steps: r.steps ?? 10,
      nodes: this.#nemesis.names,
    });
    if (r.forMs !== undefined) {
      const timer = setTimeout(() => {
        stop.abort();
      }, r.forMs);
      this.#timers.add(timer);
    }
    void runChaos(this.#nemesis, steps, { signal: stop.signal })
      .catch(() => undefined)
      .finally(() => {
        stop.abort();
      });
    const at = Date.now();
    return {
      event: {
        seq: 0,
        at,
        kind: "chaos",
        target: r.target,
        detail: `seed ${r.target}, ${steps.length} steps`,
      },
      ...(r.forMs === undefined ? {} : { undoAt: at + r.forMs }),
    };
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    try {
      if (req.method === "GET" && req.url === "/history") {
        reply(200, {
          history: this.#nemesis.history,
          paused: this.#nemesis.paused,
          partition: this.#nemesis.partitioned ?? null,
        });
        return;
      }
      if (req.method !== "POST" || req.url !== "/fault") {
        reply(404, {
          error: { code: ErrorCode.FaultSpecInvalid, message: "POST /fault or GET /history" },
        });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > 64 * 1024)
          throw new EnigmaError(ErrorCode.FaultSpecInvalid, "request too large");
        chunks.push(c as Buffer);
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        throw new EnigmaError(ErrorCode.FaultSpecInvalid, "the request is not JSON");
      }
      const request = checkFaultRequest(body);
      if (request.kind === "chaos") {
        reply(200, this.#startChaos(request));
        return;
      }
      const answer = await applyFault(this.#nemesis, request, (ms, undo) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          void undo().catch(() => undefined);
        }, ms);
        this.#timers.add(timer);
      });
      reply(200, answer);
    } catch (e) {
      const err = isEnigmaError(e)
        ? { code: e.code, message: e.message }
        : { code: ErrorCode.FaultUnsupported, message: e instanceof Error ? e.message : String(e) };
      reply(400, { error: err });
    }
  }
}

/** Sends one fault to a devnet's control endpoint (what `enigma devnet fault` does). */
export async function sendFault(url: string, request: FaultRequest): Promise<FaultAnswer> {
  let res: Response;
  try {
    res = await fetch(`${url}/fault`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (cause) {
    throw new EnigmaError(
      ErrorCode.FaultUnsupported,
      `the devnet's fault endpoint ${url} does not answer: is \`enigma devnet up\` still running?`,
      { cause },
    );
  }
  const body = (await res.json()) as FaultAnswer & { error?: { code: number; message: string } };
  if (body.error !== undefined) {
    throw new EnigmaError(body.error.code as ErrorCode, body.error.message);
  }
  return body;
}
