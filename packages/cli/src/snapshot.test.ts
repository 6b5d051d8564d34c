import { describe, expect, it } from "vitest";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { startControl } from "./snapshot.js";

describe("the devnet's control endpoint", () => {
  it("takes a snapshot when asked on 127.0.0.1, one at a time, and says why it cannot", async () => {
    const asked: string[] = [];
    let release: () => void = () => undefined;
    const control = await startControl({
      snapshot: async (name) => {
        if (name === "bad name") throw new EnigmaError(ErrorCode.InvalidArgument, "bad name");
        asked.push(name);
        await new Promise<void>((r) => {
          release = r;
        });
        return `/devnet/snapshots/${name}`;
      },
    });
    try {
      expect(control.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const post = (body: unknown) =>
        fetch(`${control.url}/snapshot`, { method: "POST", body: JSON.stringify(body) });
      const first = post({ name: "s1" });
      await expect.poll(() => asked).toEqual(["s1"]);
      // A second one while the first runs is refused, not queued behind stopped nodes.
      expect((await post({ name: "s2" })).status).toBe(409);
      release();
      const ok = await first;
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ name: "s1", folder: "/devnet/snapshots/s1" });
      const bad = await post({ name: "bad name" });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(
        ErrorCode.InvalidArgument,
      );
      expect((await post({})).status).toBe(400);
      expect((await fetch(`${control.url}/other`, { method: "POST" })).status).toBe(404);
    } finally {
      await control.stop();
    }
  });
});
