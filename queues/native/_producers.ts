// The producer table of a native queue: (pid, items put and not yet wholly
// written) pairs in shared memory, so that the slots and unfinished counts
// of items a dead process had buffered can be given back.

import { isAlive, pid } from "../../ffi/process.ts";
import { PRODUCER_ENTRIES, PRODUCERS } from "./_layout.ts";
import type { SharedPage } from "./_layout.ts";

/** Not claimed yet. */
const UNCLAIMED = -1;
/** The table was full: this process's items are not tracked. */
const UNTRACKED = -2;

/** This process's entry in a queue's producer table, and the sweep of dead ones. */
export class ProducerTable {
  readonly #page: Int32Array;
  /** The Int32 index of this process's entry. */
  #entry = UNCLAIMED;

  /** @param page the shared page */
  constructor(page: SharedPage) {
    this.#page = page.i32;
  }

  /** Adds `n` (may be negative) to this process's unwritten items. */
  add(n: number): void {
    if (this.#entry === UNCLAIMED) this.#entry = this.#claim();
    if (this.#entry >= 0) Atomics.add(this.#page, this.#entry + 1, n);
  }

  /** Takes `n` off this process's unwritten items (they are in the pipe). */
  written(n: number): void {
    if (this.#entry >= 0) Atomics.sub(this.#page, this.#entry + 1, n);
  }

  /** Claims a free entry for this process. */
  #claim(): number {
    const page = this.#page;
    for (let i = 0; i < PRODUCER_ENTRIES; i++) {
      const at = PRODUCERS + 2 * i;
      if (Atomics.compareExchange(page, at, 0, pid) === 0) {
        Atomics.store(page, at + 1, 0);
        return at;
      }
    }
    return UNTRACKED;
  }

  /**
   * Frees the entries of producers that died with items not yet written.
   *
   * @returns how many items they took with them
   */
  sweep(): number {
    const page = this.#page;
    let lost = 0;
    for (let i = 0; i < PRODUCER_ENTRIES; i++) {
      const at = PRODUCERS + 2 * i;
      const owner = Atomics.load(page, at);
      if (owner <= 0 || owner === pid || isAlive(owner)) continue;
      if (Atomics.compareExchange(page, at, owner, -1) !== owner) continue;
      lost += Atomics.exchange(page, at + 1, 0);
      Atomics.store(page, at, 0);
    }
    return lost;
  }
}
