import { ErrorCode, isEnigmaError, type Hex } from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { afterEach, describe, expect, it } from "vitest";
import { TaskWatch } from "./watch.js";
import { NodeSocket, nodeWsUrl, type WebSocketLike } from "./ws.js";

const TASK: Hex = `0x${"ab".repeat(32)}`;
const WORKER: Hex = `0x${"12".repeat(20)}`;

type Handler = (...args: never[]) => void;

/**
 * A node double behind the WHATWG WebSocket interface: answers the methods a watch uses from
 * its task table and pushes `taskStatus` to subscribers, as `RpcServer` does; every call is
 * counted by transport, so a test sees whether the client polled.
 */
class FakeNode {
  readonly statuses = new Map<string, { status: string; output?: string }>();
  readonly calls: { ws: string[]; http: string[] } = { ws: [], http: [] };
  subscriptions = true;
  /** Never answer the upgrade (a plain HTTP proxy in the way). */
  silent = false;
  readonly sockets = new Set<FakeSocket>();

  factory = (url: string): WebSocketLike => {
    expect(url).toBe("ws://127.0.0.1:3346/ws");
    const s = new FakeSocket(this);
    this.sockets.add(s);
    if (!this.silent) {
      setTimeout(() => {
        s.emit("open");
      }, 1);
    }
    return s;
  };

  answer(method: string, params: Record<string, unknown>): { result?: unknown; error?: unknown } {
    if (method === "subscribeTaskStatus") {
      return this.subscriptions
        ? { result: "0x1" }
        : { error: { code: -32601, message: "method not found" } };
    }
    if (method === "unsubscribe") return { result: true };
    if (method === "getTaskStatus") {
      const s = this.statuses.get(`0x${String(params["taskId"])}`);
      if (s === undefined) return { error: { code: ErrorCode.TaskUnknown, message: "unknown" } };
      return { result: { result: s } };
    }
    return { error: { code: -32601, message: "method not found" } };
  }

  /** What the client's HTTP path would get. */
  http = (method: string, params: unknown): Promise<unknown> => {
    this.calls.http.push(method);
    const a = this.answer(method, params as Record<string, unknown>);
    if (a.error !== undefined) {
      const { code, message } = a.error as { code: number; message: string };
      return Promise.reject(
        Object.assign(new Error(message), {
          [Symbol.for("enigma.error")]: true,
          code,
          details: {},
        }),
      );
    }
    return Promise.resolve(a.result);
  };

  finish(taskId: Hex, status: string, output?: string, push = true, withOutput = false): void {
    this.statuses.set(taskId, { status, ...(output === undefined ? {} : { output }) });
    if (!push) return;
    for (const s of this.sockets) {
      if (s.subscribed.has(taskId)) {
        const params = { subscription: "0x1", taskId, status, ...(withOutput ? { output } : {}) };
        s.emit("message", {
          data: JSON.stringify({ jsonrpc: "2.0", method: "taskStatus", params }),
        });
      }
    }
  }

  dropAll(): void {
    for (const s of this.sockets) s.emit("close");
    this.sockets.clear();
  }
}

class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly subscribed = new Set<string>();
  readonly #node: FakeNode;
  readonly #handlers = new Map<string, Handler[]>();

  constructor(node: FakeNode) {
    this.#node = node;
  }

  addEventListener(type: string, listener: Handler): void {
    this.#handlers.set(type, [...(this.#handlers.get(type) ?? []), listener]);
  }

  emit(type: string, ev?: unknown): void {
    if (type === "open") this.readyState = 1;
    if (type === "close") this.readyState = 3;
    for (const h of this.#handlers.get(type) ?? []) (h as (e?: unknown) => void)(ev);
  }

  send(data: string): void {
    const msg = JSON.parse(data) as { id: number; method: string; params: Record<string, unknown> };
    this.#node.calls.ws.push(msg.method);
    if (msg.method === "subscribeTaskStatus") this.subscribed.add(String(msg.params["taskId"]));
    const a = this.#node.answer(msg.method, msg.params);
    setTimeout(() => {
      this.emit("message", { data: JSON.stringify({ jsonrpc: "2.0", id: msg.id, ...a }) });
    }, 1);
  }

  close(): void {
    this.emit("close");
  }
}

const sockets: NodeSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

function setup(o: { pollMs?: number; ws?: boolean; connectTimeoutMs?: number } = {}) {
  const node = new FakeNode();
  const socket =
    o.ws === false
      ? undefined
      : new NodeSocket(nodeWsUrl("http://127.0.0.1:3346"), {
          webSocket: node.factory,
          connectTimeoutMs: o.connectTimeoutMs ?? 2_000,
        });
  if (socket !== undefined) sockets.push(socket);
  const call = (method: string, params: unknown): Promise<unknown> =>
    socket?.connected === true ? socket.call(method, params) : node.http(method, params);
  const watch = (checkFirst = false) =>
    new TaskWatch(
      { call, socket, pollMs: o.pollMs ?? 20, safetyPollMs: 60_000 },
      TASK,
      WORKER,
      checkFirst,
    );
  return { node, socket, watch };
}

describe("TaskWatch", () => {
  it("waits for the node's push and asks for the output once, without polling", async () => {
    const { node, watch } = setup({ pollMs: 5 });
    const w = watch();
    await w.ready;
    expect(w.pushed).toBe(true);
    const done = w.done(10_000);
    await new Promise((r) => setTimeout(r, 100));
    node.finish(TASK, "INPROGRESS");
    node.finish(TASK, "SUCCESS", "0xbeef");
    const s = await done;
    expect(s).toEqual({ status: "SUCCESS", output: "0xbeef" });
    // 100 ms at a 5 ms poll interval, and yet one status request: the one after the push.
    expect(node.calls.ws.filter((m) => m === "getTaskStatus")).toHaveLength(1);
    expect(node.calls.http).toEqual([]);
    expect(node.calls.ws).toContain("unsubscribe");
  });

  it("takes the output from the push when the node sends it along", async () => {
    const { node, watch } = setup();
    const w = watch();
    await w.ready;
    const done = w.done(10_000);
    node.finish(TASK, "FAILED", "0x01", true, true);
    expect(await done).toEqual({ status: "FAILED", output: "0x01" });
    expect(node.calls.ws.filter((m) => m === "getTaskStatus")).toHaveLength(0);
  });

  it("polls a node without subscriptions, and stops asking it to push", async () => {
    const { node, socket, watch } = setup();
    node.subscriptions = false;
    const w = watch();
    await w.ready;
    expect(w.pushed).toBe(false);
    expect(socket?.pushes).toBe(false);
    setTimeout(() => {
      node.finish(TASK, "SUCCESS", "0x02", false);
    }, 60);
    expect((await w.done(10_000)).output).toBe("0x02");
    expect(node.calls.ws.filter((m) => m === "getTaskStatus").length).toBeGreaterThan(1);
    await watch().ready;
    expect(node.calls.ws.filter((m) => m === "subscribeTaskStatus")).toHaveLength(1);
  });

  it("falls back to polling over HTTP when the socket is lost mid-wait", async () => {
    const { node, watch } = setup();
    const w = watch();
    await w.ready;
    const done = w.done(10_000);
    await new Promise((r) => setTimeout(r, 30));
    node.dropAll();
    // The result arrives without a push (nobody is subscribed any more).
    node.finish(TASK, "SUCCESS", "0x03", false);
    expect((await done).output).toBe("0x03");
    expect(node.calls.http).toContain("getTaskStatus");
  });

  it("polls over HTTP without a WebSocket, or when the upgrade is never answered", async () => {
    for (const o of [{ ws: false }, { connectTimeoutMs: 50 }]) {
      const { node, watch } = setup(o);
      node.silent = true;
      const w = watch();
      await w.ready;
      expect(w.pushed).toBe(false);
      setTimeout(() => {
        node.finish(TASK, "SUCCESS", "0x04", false);
      }, 40);
      expect((await w.done(10_000)).output).toBe("0x04");
      expect(node.calls.http.filter((m) => m === "getTaskStatus").length).toBeGreaterThan(0);
    }
  });

  it("asks first when started after the input went out, treating an unknown task as not yet", async () => {
    const { node, watch } = setup();
    node.finish(TASK, "SUCCESS", "0x05", false);
    expect((await watch(true).done(10_000)).output).toBe("0x05");
    const fresh = setup({ pollMs: 5 });
    const w = fresh.watch(false);
    await w.ready;
    fresh.socket?.close(); // no pushes from here on: polls, and the node does not know the task
    const err = await w.done(100).catch((e: unknown) => e);
    expect(isEnigmaError(err, ErrorCode.PeerTimeout)).toBe(true);
    expect(await rejectedCode(w.done(100))).toBe(ErrorCode.PeerTimeout);
  });
});

describe("NodeSocket", () => {
  it("maps a node's JSON-RPC error code to the catalog's typed error", async () => {
    const node = new FakeNode();
    const socket = new NodeSocket("ws://127.0.0.1:3346/ws", { webSocket: node.factory });
    sockets.push(socket);
    expect(await rejectedCode(socket.call("getTaskStatus", { taskId: "00".repeat(32) }))).toBe(
      ErrorCode.TaskUnknown,
    );
    socket.close();
    expect(await rejectedCode(socket.call("getInfo", {}))).toBe(ErrorCode.RpcTransport);
  });

  it("derives the WebSocket URL from the node's HTTP URL", () => {
    expect(nodeWsUrl("http://127.0.0.1:3346")).toBe("ws://127.0.0.1:3346/ws");
    expect(nodeWsUrl("https://node.example:8443/rpc?x=1")).toBe("wss://node.example:8443/ws");
  });
});
