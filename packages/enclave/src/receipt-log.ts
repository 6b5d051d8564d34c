// Sealed, append-only logs of fixed-size records inside the enclave directory, kept in memory
// too: the receipts a worker enclave produced (so that it signs a batch for `commitReceipts`
// only of its own receipts, also after a restart), and the user keys it handed out (so that a
// task whose input arrived before a crash still decrypts after the restart).
import { appendFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { EnigmaError, ErrorCode, bytesToHex, concatBytes, hexToBytes } from "@enigma/protocol";
import type { Sealer } from "./sealing.js";

export interface SealedLogOptions {
  /** Sealing label of the records (binds the file to its purpose). */
  label: string;
  /** Bytes per record. */
  recordBytes: number;
  /** Records kept at most; the oldest are dropped first. */
  max: number;
  /** On open: records to drop (for example expired ones). */
  keep?: (record: Uint8Array) => boolean;
}

/**
 * A bounded, persistent, ordered set of fixed-size records, oldest dropped first.
 *
 * File layout: entries of `u32be length || sealed blob`, each blob holding whole records. One
 * entry is appended per record; a torn last entry (a crash while appending) is dropped on
 * open; the file is rewritten (atomically) when it has gone a quarter past `max` records, or
 * when opening dropped something, keeping the newest `max`.
 */
export class SealedLog {
  readonly #file: string;
  readonly #sealer: Sealer;
  readonly #o: SealedLogOptions;
  readonly #records = new Set<string>();

  private constructor(file: string, sealer: Sealer, o: SealedLogOptions) {
    this.#file = file;
    this.#sealer = sealer;
    this.#o = o;
  }

  /** Reads `file` (absent means empty); throws `SealedDataRejected` for a foreign or altered entry. */
  static open(file: string, sealer: Sealer, o: SealedLogOptions): SealedLog {
    const log = new SealedLog(file, sealer, o);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return log;
      throw e;
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    let dropped = false;
    while (at < bytes.length) {
      if (at + 4 > bytes.length || at + 4 + dv.getUint32(at) > bytes.length) {
        dropped = true; // torn
        break;
      }
      const len = dv.getUint32(at);
      const plain = sealer.unseal(o.label, bytes.subarray(at + 4, at + 4 + len));
      if (plain.length % o.recordBytes !== 0) {
        throw new EnigmaError(ErrorCode.SealedDataRejected, "a sealed record has a wrong size", {
          details: { label: o.label },
        });
      }
      for (let r = 0; r < plain.length; r += o.recordBytes) {
        const rec = plain.subarray(r, r + o.recordBytes);
        if (o.keep === undefined || o.keep(rec)) log.#remember(rec);
        else dropped = true;
      }
      at += 4 + len;
    }
    if (dropped || log.#records.size > o.max) log.#rewrite();
    return log;
  }

  has(record: Uint8Array): boolean {
    return this.#records.has(bytesToHex(record));
  }

  get size(): number {
    return this.#records.size;
  }

  /** The records, oldest first. */
  values(): Uint8Array[] {
    return [...this.#records].map((r) => hexToBytes(r));
  }

  /** Remembers a record, persisting it before returning. */
  add(record: Uint8Array): void {
    if (record.length !== this.#o.recordBytes) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        `a record must be ${this.#o.recordBytes} bytes`,
      );
    }
    if (this.has(record)) return;
    this.#remember(record);
    if (this.#records.size > this.#o.max + (this.#o.max >> 2)) {
      this.#rewrite();
      return;
    }
    appendFileSync(this.#file, entry(this.#sealer.seal(this.#o.label, record)), { mode: 0o600 });
  }

  #remember(record: Uint8Array): void {
    const id = bytesToHex(record);
    this.#records.delete(id); // re-insert at the end: Set order is age order
    this.#records.add(id);
  }

  #rewrite(): void {
    while (this.#records.size > this.#o.max) {
      const oldest = this.#records.values().next();
      if (oldest.done === true) break;
      this.#records.delete(oldest.value);
    }
    const all = concatBytes(...this.values());
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, entry(this.#sealer.seal(this.#o.label, all)), { mode: 0o600 });
    renameSync(tmp, this.#file);
  }
}

/** The 32-byte hashes of the receipts a worker enclave produced. */
export class ReceiptLog {
  readonly #log: SealedLog;

  private constructor(log: SealedLog) {
    this.#log = log;
  }

  /** Reads `file` (absent means empty); throws `SealedDataRejected` for a foreign or altered record. */
  static open(file: string, sealer: Sealer, max = 100_000): ReceiptLog {
    return new ReceiptLog(
      SealedLog.open(file, sealer, { label: "enigma.receipts.v1", recordBytes: 32, max }),
    );
  }

  has(hash: Uint8Array): boolean {
    return this.#log.has(hash);
  }

  get size(): number {
    return this.#log.size;
  }

  /** Remembers a hash, persisting it before returning. */
  add(hash: Uint8Array): void {
    this.#log.add(hash);
  }
}

function entry(blob: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + blob.length);
  new DataView(out.buffer).setUint32(0, blob.length);
  out.set(blob, 4);
  return out;
}
