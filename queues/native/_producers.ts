// The producer table of a native queue: for each process that put items,
// how many it ever reserved and how many it ever wrote, in shared memory, so
// that the slots (and unfinished counts) of items a dead process had
// buffered and not written can be given back. The written count is stored,
// not added to: a writer records it again after every write call, and the
// process that takes over from a dead writer can finish its record exactly
// (from the write journal, see `Recovery.settleDeadWriter`).

import { claimRecord, sweepDeadRecords, type Table } from "./_records.ts";
import {
  JOURNAL_PRODUCER,
  JOURNAL_WRITTEN,
  PRODUCER_ENTRIES,
  PRODUCERS,
  type SharedPage,
  WLOCK,
} from "./_layout.ts";

/** Not claimed yet. */
const UNCLAIMED = -1;
/** The table was full: this process's items are not tracked. */
const UNTRACKED = -2;
/** Int32 words per record: pid, reserved, written, unused. */
const RECORD = 4;

/** This process's record in a queue's producer table, and the sweep of dead ones. */
export class ProducerTable {
  readonly #page: Int32Array;
  readonly #table: Table;
  /** The Int32 index of this process's record. */
  #entry = UNCLAIMED;
  /** Items this process ever wrote (its record's written count). */
  #written = 0;

  /** @param page the shared page */
  constructor(page: SharedPage) {
    this.#page = page.i32;
    this.#table = {
      page: page.i32,
      base: PRODUCERS,
      count: PRODUCER_ENTRIES,
      stride: RECORD,
    };
  }

  /** Adds `n` (may be negative) to this process's reserved items. */
  add(n: number): void {
    if (this.#entry === UNCLAIMED) {
      this.#entry = claimRecord(this.#table);
      if (this.#entry === -1) this.#entry = UNTRACKED;
    }
    if (this.#entry >= 0) Atomics.add(this.#page, this.#entry + 1, n);
  }

  /** `n` more of this process's items are wholly in the pipe. */
  written(n: number): void {
    this.#written += n;
    if (this.#entry >= 0) {
      Atomics.store(this.#page, this.#entry + 2, this.#written);
    }
  }

  /**
   * Holding the write lock, about to write a buffer of this process's items:
   * records in the write journal whose they are and how many it wrote before.
   */
  journal(): void {
    const page = this.#page;
    Atomics.store(page, JOURNAL_WRITTEN, this.#written);
    Atomics.store(page, JOURNAL_PRODUCER, this.#entry);
  }

  /**
   * Frees the records of producers that died with items not yet written
   * (not the write-lock holder's while its accounting is unfinished: see
   * `Recovery.settleDeadWriter`).
   *
   * @returns how many items they took with them
   */
  sweep(): number {
    const page = this.#page;
    let lost = 0;
    sweepDeadRecords(
      this.#table,
      (at) => {
        const reserved = Atomics.exchange(page, at + 1, 0);
        lost += reserved - Atomics.exchange(page, at + 2, 0);
      },
      // Its last write is not settled yet.
      (at, owner) =>
        Atomics.load(page, WLOCK) === owner &&
        Atomics.load(page, JOURNAL_PRODUCER) === at,
    );
    return lost;
  }
}
