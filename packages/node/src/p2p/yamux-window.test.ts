import { YamuxStream, StreamState } from "@chainsafe/libp2p-yamux/stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { P2PNetwork } from "./network.js";

// The yamux stream muxer is patched (pnpm-workspace.yaml `patchedDependencies`): a stream sends
// a WINDOW_UPDATE once half of its receive window is consumed, not after every data frame. These
// tests fail on the unpatched package (the first) and on a patch that would stall a stream (the
// others, which move several windows' worth of data over one stream).

const WINDOW = 256 * 1024; // yamux's initial stream window
const FrameType = { Data: 0, WindowUpdate: 1 } as const;
const Flag = { SYN: 1, ACK: 2 } as const;

interface SentFrame {
  type: number;
  flag: number;
  length: number;
}

function inboundStream(sent: SentFrame[]): YamuxStream {
  const log = Object.assign(() => undefined, {
    enabled: false,
    trace: () => undefined,
    error: () => undefined,
    newScope: () => log,
  });
  return new YamuxStream({
    id: "1",
    streamId: 1,
    state: StreamState.SYNReceived,
    direction: "inbound",
    log,
    sendFrame: (frame: { header?: SentFrame } & SentFrame) => {
      const header = frame.header ?? frame;
      sent.push({ type: header.type, flag: header.flag, length: header.length });
      return true;
    },
    getRTT: () => -1,
  } as unknown as ConstructorParameters<typeof YamuxStream>[0]);
}

function dataFrame(bytes: number): Parameters<YamuxStream["handleData"]>[0] {
  return {
    header: { type: FrameType.Data, flag: 0, streamID: 1, length: bytes },
    data: new Uint8Array(bytes),
  } as unknown as Parameters<YamuxStream["handleData"]>[0];
}

describe("yamux receive window (patched)", () => {
  it("acknowledges a stream at once, then updates the window only once half of it is used", () => {
    const sent: SentFrame[] = [];
    const stream = inboundStream(sent);
    for (let i = 0; i < 300; i++) stream.handleData(dataFrame(1024));
    // Unpatched: 300 window updates, one per frame. Patched: the ACK that opens the stream, then
    // an update each time 129 KiB (more than half of the 256 KiB window) has arrived.
    const update = { type: FrameType.WindowUpdate, flag: 0, length: 129 * 1024 };
    expect(sent).toEqual([
      { type: FrameType.WindowUpdate, flag: Flag.ACK, length: 1024 },
      update,
      update,
    ]);
  });

  it("updates at once after a frame larger than half the window", () => {
    const sent: SentFrame[] = [];
    const stream = inboundStream(sent);
    stream.handleData(dataFrame(1)); // the ACK
    stream.handleData(dataFrame(WINDOW / 2 + 1));
    expect(sent.at(-1)).toEqual({
      type: FrameType.WindowUpdate,
      flag: 0,
      length: WINDOW / 2 + 1, // the ACK had restored the first byte
    });
  });
});

describe("streams carry many windows' worth of data", () => {
  const topic = "enigma/test/yamux/1";
  let a: P2PNetwork;
  let b: P2PNetwork;

  beforeAll(async () => {
    a = new P2PNetwork({ maxMessageBytes: 8 * 1024 * 1024 });
    await a.handle("/test/echo-big/1", (request) =>
      Promise.resolve({ back: request, pad: "z".repeat(3 << 20) }),
    );
    await a.start();
    const addr = a.multiaddrs[0];
    if (addr === undefined) throw new Error("no address");
    b = new P2PNetwork({ bootstrap: [addr], maxMessageBytes: 8 * 1024 * 1024 });
    await b.start();
  });

  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  it("delivers 1,200 gossip messages of 1 KiB (about 5 windows on one stream), all of them", async () => {
    const count = 1200;
    const got = new Set<number>();
    let done: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (done = resolve));
    b.subscribe(
      topic,
      () => "accept",
      (data) => {
        got.add(new DataView(data.buffer, data.byteOffset).getUint32(0));
        if (got.size === count) done();
      },
    );
    a.subscribe(
      topic,
      () => "accept",
      () => undefined,
    );
    await a.waitForTopicPeers(topic, 1);
    for (let i = 0; i < count; i++) {
      const data = new Uint8Array(1024);
      new DataView(data.buffer).setUint32(0, i);
      await a.publish(topic, data);
    }
    await all;
    expect(got.size).toBe(count);
  });

  it("answers a 900 KiB request with a 3 MiB response", async () => {
    const body = "q".repeat(900 * 1024);
    const answer = (await b.request(a.peerId, "/test/echo-big/1", body)) as {
      back: string;
      pad: string;
    };
    expect(answer.back).toBe(body);
    expect(answer.pad.length).toBe(3 << 20);
  });
});
