// The receipts a worker enclave produced, so that it signs a batch for `commitReceipts` only
// of its own receipts, also after a restart (the node keeps unconfirmed receipts across
// restarts and commits them later). Kept in memory and appended, sealed, to a file.
import { appendFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { EnigmaError, ErrorCode, bytesToHex, concatBytes } from "@enigma/protocol";
import type { Sealer } from "./sealing.js";

const LABEL = "enigma.receipts.v1";
const HASH = 32;

/**
 * A bounded, persistent set of 32-byte receipt hashes, oldest dropped first.
 *
 * File layout: records of `u32be length || sealed blob` (label `enigma.receipts.v1`), each blob
 * holding whole 32-byte hashes. One record is appended per receipt; a torn last record (a
 * crash while appending) is dropped on open; the file is rewritten (atomically) when it has
 * gone a quarter past `max` entries, keeping the newest `max`.
 */
export class ReceiptLog {
  readonly #file: string;
  readonly #sealer: Sealer;
  readonly #max: number;
  readonly #hashes = new Set<string>();

  private constructor(file: string, sealer: Sealer, max: number) {
    this.#file = file;
    this.#sealer = sealer;
    this.#max = max;
  }

  /** Reads `file` (absent means empty); throws `SealedDataRejected` for a foreign or altered record. */
  static open(file: string, sealer: Sealer, max = 100_000): ReceiptLog {
    const log = new ReceiptLog(file, sealer, max);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return log;
      throw e;
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let o = 0;
    let torn = false;
    while (o < bytes.length) {
      if (o + 4 > bytes.length || o + 4 + dv.getUint32(o) > bytes.length) {
        torn = true;
        break;
      }
      const len = dv.getUint32(o);
      const plain = sealer.unseal(LABEL, bytes.subarray(o + 4, o + 4 + len));
      if (plain.length % HASH !== 0) {
        throw new EnigmaError(
          ErrorCode.SealedDataRejected,
          "a sealed receipt record has a wrong size",
        );
      }
      for (let h = 0; h < plain.length; h += HASH) log.#remember(plain.subarray(h, h + HASH));
      o += 4 + len;
    }
    if (torn || log.#hashes.size > log.#max) log.#rewrite();
    return log;
  }

  has(hash: Uint8Array): boolean {
    return this.#hashes.has(bytesToHex(hash));
  }

  get size(): number {
    return this.#hashes.size;
  }

  /** Remembers a hash, persisting it before returning. */
  add(hash: Uint8Array): void {
    if (this.has(hash)) return;
    this.#remember(hash);
    if (this.#hashes.size > this.#max + (this.#max >> 2)) {
      this.#rewrite();
      return;
    }
    appendFileSync(this.#file, record(this.#sealer.seal(LABEL, hash)), { mode: 0o600 });
  }

  #remember(hash: Uint8Array): void {
    const id = bytesToHex(hash);
    this.#hashes.delete(id); // re-insert at the end: Set order is age order
    this.#hashes.add(id);
  }

  #rewrite(): void {
    while (this.#hashes.size > this.#max) {
      const oldest = this.#hashes.values().next();
      if (oldest.done === true) break;
      this.#hashes.delete(oldest.value);
    }
    const all = concatBytes(
      ...[...this.#hashes].map((h) => Uint8Array.from(Buffer.from(h.slice(2), "hex"))),
    );
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, record(this.#sealer.seal(LABEL, all)), { mode: 0o600 });
    renameSync(tmp, this.#file);
  }
}

function record(blob: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + blob.length);
  new DataView(out.buffer).setUint32(0, blob.length);
  out.set(blob, 4);
  return out;
}
