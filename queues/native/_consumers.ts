// The consumer table of a native JoinableQueue: (pid, items got and not yet
// marked done) pairs in shared memory, and a log of the losses found in it.
// A process that dies holding items is found by whichever process sweeps
// next: it takes the entry (one compare-and-swap: exactly one sweeper wins),
// logs the loss, and the items stop counting as unfinished. Every process
// reads each logged loss once (`JoinableQueue.join()` rejects with it).

import { claimRecord, sweepDeadRecords, type Table } from "./_records.ts";
import {
  CONSUMER_ENTRIES,
  CONSUMERS,
  LOSS_RECORDS,
  LOSS_SEQ,
  LOSSES,
  type SharedPage,
} from "./_layout.ts";

/** Not claimed yet. */
const UNCLAIMED = -1;
/** The table was full: this process's items are not tracked. */
const UNTRACKED = -2;

/** A process that died holding items, and how many. */
export interface Loss {
  readonly pid: number;
  readonly count: number;
}

/** This process's entry in a queue's consumer table, the sweep and the loss log. */
export class ConsumerTable {
  readonly #page: Int32Array;
  readonly #table: Table;
  /** The Int32 index of this process's entry. */
  #entry = UNCLAIMED;
  /** The losses this process has read (a count of the log). */
  #seen: number;

  /** @param page the shared page */
  constructor(page: SharedPage) {
    this.#page = page.i32;
    this.#table = {
      page: page.i32,
      base: CONSUMERS,
      count: CONSUMER_ENTRIES,
      stride: 2,
    };
    // Losses before this process held the queue are not its news.
    this.#seen = Atomics.load(this.#page, LOSS_SEQ);
  }

  /** Adds `n` (may be negative) to this process's items held. */
  add(n: number): void {
    if (this.#entry === UNCLAIMED) {
      this.#entry = claimRecord(this.#table);
      if (this.#entry === -1) this.#entry = UNTRACKED;
    }
    if (this.#entry >= 0) Atomics.add(this.#page, this.#entry + 1, n);
  }

  /**
   * Frees the entries of consumers that died, logging those that held
   * items.
   *
   * @returns how many items they held
   */
  sweep(): number {
    const page = this.#page;
    let lost = 0;
    sweepDeadRecords(this.#table, (at, owner) => {
      const count = Atomics.exchange(page, at + 1, 0);
      if (count <= 0) return;
      // Reserve a log record, fill it, then stamp it (readers wait for that).
      const seq = Atomics.add(page, LOSS_SEQ, 1);
      const record = LOSSES + 4 * (seq % LOSS_RECORDS);
      Atomics.store(page, record + 1, owner);
      Atomics.store(page, record + 2, count);
      Atomics.store(page, record, seq + 1);
      lost += count;
    });
    return lost;
  }

  /**
   * The oldest logged loss this process has not read yet (then read), or
   * null. A record not stamped yet is read later; one whose sweeper died
   * before stamping it is skipped once a later loss is logged.
   */
  nextLoss(): Loss | null {
    const page = this.#page;
    for (;;) {
      const seq = Atomics.load(page, LOSS_SEQ);
      if (this.#seen >= seq) return null;
      // Records older than the log holds are gone: read the oldest kept.
      this.#seen = Math.max(this.#seen, seq - LOSS_RECORDS);
      const record = LOSSES + 4 * (this.#seen % LOSS_RECORDS);
      if (Atomics.load(page, record) !== this.#seen + 1) {
        if (this.#seen + 1 >= seq) return null; // being written
        this.#seen++; // its sweeper died before stamping it
        continue;
      }
      const loss = {
        pid: Atomics.load(page, record + 1),
        count: Atomics.load(page, record + 2),
      };
      this.#seen++;
      return loss;
    }
  }
}
