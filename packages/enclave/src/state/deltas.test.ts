import { createDecipheriv } from "node:crypto";
import { ErrorCode, aesDecrypt, aesEncrypt, keccak256 } from "@enigma/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ZERO_HASH,
  decodeDelta,
  decryptDelta,
  encodeDelta,
  encryptDelta,
  gcmDecrypt,
  rebuildState,
  type EncryptedDelta,
} from "./deltas.js";
import { ContractState, type StateChange } from "./state.js";

const key = new Uint8Array(32).fill(0x42);
const b = (s: string) => new TextEncoder().encode(s);

/** A chain of `n` deltas, each setting `k<i>` and removing `k<i-2>`. */
function chain(n: number): EncryptedDelta[] {
  const out: EncryptedDelta[] = [];
  let prev = ZERO_HASH;
  for (let i = 0; i < n; i++) {
    const changes: StateChange[] = [{ key: b(`k${i}`), value: b(`v${i}`) }];
    if (i >= 2) changes.push({ key: b(`k${i - 2}`), value: null });
    const d = encryptDelta(key, { index: i, prevHash: prev, changes });
    out.push(d);
    prev = d.hash;
  }
  return out;
}

const changeArb = fc
  .uniqueArray(
    fc.record({
      key: fc.uint8Array({ minLength: 0, maxLength: 12 }),
      value: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
    }),
    { selector: (c) => Buffer.from(c.key).toString("hex"), maxLength: 8 },
  )
  .map((cs) => cs as StateChange[]);

describe("delta encoding", () => {
  it("round-trips any change set, and the encoding is independent of input order", () => {
    fc.assert(
      fc.property(changeArb, fc.nat(1_000_000), (changes, index) => {
        const enc = encodeDelta({ index, prevHash: ZERO_HASH, changes });
        const dec = decodeDelta(enc);
        expect(dec.index).toBe(index);
        const sorted = [...changes].sort((x, y) => Buffer.compare(x.key, y.key));
        expect(dec.changes).toEqual(sorted);
        expect(
          encodeDelta({ index, prevHash: ZERO_HASH, changes: [...changes].reverse() }),
        ).toEqual(enc);
      }),
    );
  });

  it("rejects truncated or extended plaintext with MalformedDelta", () => {
    const enc = encodeDelta({
      index: 1,
      prevHash: ZERO_HASH,
      changes: [{ key: b("a"), value: b("1") }],
    });
    expect(() => decodeDelta(enc.subarray(0, enc.length - 1))).toThrow(
      expect.objectContaining({ code: ErrorCode.MalformedDelta }) as Error,
    );
    expect(() => decodeDelta(Uint8Array.of(...enc, 0))).toThrow(
      expect.objectContaining({ code: ErrorCode.MalformedDelta }) as Error,
    );
  });
});

describe("delta encryption", () => {
  it("is standard AES-256-GCM (ciphertext || tag || iv) under the state key, hash = keccak256(data)", () => {
    const record = { index: 0, prevHash: ZERO_HASH, changes: [{ key: b("x"), value: b("y") }] };
    const d = encryptDelta(key, record);
    expect(d.hash).toEqual(keccak256(d.data));
    const iv = d.data.subarray(d.data.length - 12);
    const tag = d.data.subarray(d.data.length - 28, d.data.length - 12);
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([
      decipher.update(d.data.subarray(0, d.data.length - 28)),
      decipher.final(),
    ]);
    expect(new Uint8Array(plain)).toEqual(encodeDelta(record));
  });

  it("the node:crypto decryption agrees with aesDecrypt and refuses what it refuses", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(400), (plain, flip) => {
        const wire = aesEncrypt(key, plain);
        expect(gcmDecrypt(key, wire)).toEqual(aesDecrypt(key, wire));
        const bad = wire.slice();
        const at = flip % bad.length;
        bad[at] = (bad[at] ?? 0) ^ 1;
        expect(() => gcmDecrypt(key, bad)).toThrow();
      }),
    );
  });

  it("is deterministic: the same delta gives the same ciphertext and hash; different deltas differ", () => {
    const r = { index: 3, prevHash: ZERO_HASH, changes: [{ key: b("x"), value: b("y") }] };
    expect(encryptDelta(key, r)).toEqual(encryptDelta(key, r));
    const other = encryptDelta(key, { ...r, changes: [{ key: b("x"), value: b("z") }] });
    expect(other.hash).not.toEqual(encryptDelta(key, r).hash);
    // distinct IVs for distinct plaintexts
    expect(other.data.subarray(-12)).not.toEqual(encryptDelta(key, r).data.subarray(-12));
  });

  it("decryptDelta refuses a wrong key or a changed byte with DeltaTampered", () => {
    const [d] = chain(1) as [EncryptedDelta];
    expect(() => decryptDelta(new Uint8Array(32), d)).toThrow(
      expect.objectContaining({ code: ErrorCode.DeltaTampered }) as Error,
    );
    for (let i = 0; i < d.data.length; i++) {
      const data = d.data.slice();
      data[i] = (data[i] ?? 0) ^ 1;
      // with the hash recomputed (an attacker rewriting the hash too): GCM still refuses it
      expect(() => decryptDelta(key, { ...d, data, hash: keccak256(data) })).toThrow(
        expect.objectContaining({ code: ErrorCode.DeltaTampered }) as Error,
      );
    }
  });
});

describe("rebuildState", () => {
  it("rebuilds the state applied delta by delta", () => {
    const deltas = chain(20);
    const { state, head, nextIndex } = rebuildState(key, deltas);
    expect(nextIndex).toBe(20);
    expect(head).toEqual(deltas[19]?.hash);
    expect(state.entries().map((e) => new TextDecoder().decode(e.key))).toEqual(["k18", "k19"]);
  });

  it("matches applying the plaintext changes directly (property)", () => {
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 6 }), (sets) => {
        const direct = new ContractState();
        const deltas: EncryptedDelta[] = [];
        let prev = ZERO_HASH;
        sets.forEach((changes, index) => {
          direct.apply(changes);
          const d = encryptDelta(key, { index, prevHash: prev, changes });
          deltas.push(d);
          prev = d.hash;
        });
        const rebuilt = rebuildState(key, deltas).state;
        expect(rebuilt.entries()).toEqual(direct.entries());
        expect(rebuilt.byteSize).toBe(direct.byteSize);
      }),
    );
  });

  it("a missing, reordered, replaced or tampered delta is a typed error", () => {
    const deltas = chain(5);
    const [d0, d1, d2, d3, d4] = deltas as [
      EncryptedDelta,
      EncryptedDelta,
      EncryptedDelta,
      EncryptedDelta,
      EncryptedDelta,
    ];
    const broken = expect.objectContaining({ code: ErrorCode.DeltaChainBroken }) as Error;
    const tampered = expect.objectContaining({ code: ErrorCode.DeltaTampered }) as Error;
    expect(() => rebuildState(key, [d0, d1, d3, d4])).toThrow(broken); // missing
    expect(() => rebuildState(key, [d0, d2, d1, d3])).toThrow(broken); // reordered
    expect(() => rebuildState(key, [d1, d2])).toThrow(broken); // missing delta 0
    // a delta relabelled with the index of the missing one still fails: its index is inside the ciphertext
    expect(() => rebuildState(key, [d0, d1, { ...d3, index: 2 }])).toThrow(broken);
    // a delta 2 from another chain (valid on its own) does not follow this delta 1
    const foreign = encryptDelta(key, {
      index: 2,
      prevHash: new Uint8Array(32).fill(1),
      changes: [],
    });
    expect(() => rebuildState(key, [d0, d1, foreign])).toThrow(broken);
    const data = d2.data.slice();
    data[0] = (data[0] ?? 0) ^ 0x80;
    expect(() => rebuildState(key, [d0, d1, { ...d2, data }])).toThrow(tampered);
    // hashes committed on Ethereum must match
    expect(() => rebuildState(key, deltas, { expectedHashes: [d0.hash, d2.hash] })).toThrow(
      tampered,
    );
    expect(() =>
      rebuildState(key, deltas, { expectedHashes: deltas.map((d) => d.hash) }),
    ).not.toThrow();
  });

  it("continues from an earlier rebuild (incremental catch-up)", () => {
    const deltas = chain(6);
    const first = rebuildState(key, deltas.slice(0, 3));
    const rest = rebuildState(key, deltas.slice(3), {
      from: { state: first.state, head: first.head, nextIndex: first.nextIndex },
    });
    expect(rest.state.entries()).toEqual(rebuildState(key, deltas).state.entries());
  });
});
