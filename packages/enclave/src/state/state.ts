// A secret contract's key-value state as the enclave holds it in plaintext. Keys and values are
// opaque bytes to the host (DESIGN.md section 5).

/** One changed key of a delta: `value` null means the key was removed. */
export interface StateChange {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/** The changed keys of one task, sorted by key bytes (the deterministic order). */
export type StateChanges = readonly StateChange[];

/** Read access to a contract's state, as the runtime needs it. */
export interface StateView {
  get(key: Uint8Array): Uint8Array | undefined;
  /** Sum of key and value lengths over all entries. */
  readonly byteSize: number;
}

// Map keys: the key bytes as a latin1 string (a bijection, and faster than hex).
export function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

export function keyFromId(id: string): Uint8Array {
  return new Uint8Array(Buffer.from(id, "latin1"));
}

/** Orders keys as their bytes compare (latin1 ids compare the same way, code unit by code unit). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A contract's plaintext state. Lives only inside the enclave; it leaves as encrypted deltas.
 *
 * @example
 * const state = new ContractState();
 * state.apply(changes);
 */
export class ContractState implements StateView {
  private readonly map = new Map<string, Uint8Array>();
  private bytes = 0;

  get(key: Uint8Array): Uint8Array | undefined {
    return this.map.get(keyId(key));
  }

  has(key: Uint8Array): boolean {
    return this.map.has(keyId(key));
  }

  get size(): number {
    return this.map.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.setId(keyId(key), key.length, value);
  }

  delete(key: Uint8Array): void {
    this.deleteId(keyId(key), key.length);
  }

  /** Applies a task's changes (sets and removals). */
  apply(changes: StateChanges): void {
    for (const c of changes) {
      const id = keyId(c.key);
      if (c.value === null) this.deleteId(id, c.key.length);
      else this.setId(id, c.key.length, c.value);
    }
  }

  /** All entries sorted by key bytes. */
  entries(): StateChange[] {
    return [...this.map.keys()]
      .sort(compareIds)
      .map((id) => ({ key: keyFromId(id), value: this.map.get(id) as Uint8Array }));
  }

  clone(): ContractState {
    const c = new ContractState();
    for (const [id, v] of this.map) c.map.set(id, v);
    c.bytes = this.bytes;
    return c;
  }

  private setId(id: string, keyLen: number, value: Uint8Array): void {
    const old = this.map.get(id);
    this.bytes += value.length - (old === undefined ? -keyLen : old.length);
    this.map.set(id, value.slice());
  }

  private deleteId(id: string, keyLen: number): void {
    const old = this.map.get(id);
    if (old === undefined) return;
    this.bytes -= keyLen + old.length;
    this.map.delete(id);
  }
}
