// The counts of a queue, across processes: free slots, unfinished tasks,
// this process's items buffered and not yet written (the producer table),
// and the items this process got and has not marked done. Every change of
// a count has one method here, named for what happened to the items.

import type { Counter } from "./_transport.ts";
import type { Until } from "./wait/_until.ts";

/** Where a queue records the items it has buffered but not yet written. */
export interface Producers {
  /** Adds `n` (may be negative) to this process's unwritten items. */
  add(n: number): void;
  /** Frees dead producers' records; returns how many items died with them. */
  sweep(): number;
}

/** A process that died holding items it got, and how many. */
export interface Loss {
  readonly pid: number;
  readonly count: number;
}

/** Where a JoinableQueue records the items each process got and has not marked done. */
export interface Consumers {
  /** Adds `n` (may be negative) to this process's items held. */
  add(n: number): void;
  /** Frees dead consumers' records, logging losses; returns the items lost. */
  sweep(): number;
  /** The next logged loss this process has not read yet, or null. */
  nextLoss(): Loss | null;
}

/** The parts of a ledger; a `SimpleQueue` has none of them. */
export interface LedgerParts {
  /** Free slots: `maxsize` (or the counter's maximum) when empty. */
  readonly slots?: Counter;
  /** The number of slots when the queue is empty. */
  readonly bound?: number;
  /** Items put and not yet marked done (a `JoinableQueue`). */
  readonly unfinished?: Counter;
  readonly producers?: Producers;
  readonly consumers?: Consumers;
}

/** The counts of one queue, as seen from this process. */
export class Ledger {
  readonly #slots: Counter | undefined;
  readonly #bound: number;
  readonly #unfinished: Counter | undefined;
  readonly #producers: Producers | undefined;
  readonly #consumers: Consumers | undefined;
  /** Items this process got and has not marked done (a `JoinableQueue`). */
  #held = 0;

  constructor(parts: LedgerParts) {
    this.#slots = parts.slots;
    this.#bound = parts.bound ?? 0;
    this.#unfinished = parts.unfinished;
    this.#producers = parts.producers;
    this.#consumers = parts.consumers;
  }

  /** The number of slots when the queue is empty. */
  get bound(): number {
    return this.#bound;
  }

  /** Items this process got and has not marked done. */
  get held(): number {
    return this.#held;
  }

  /**
   * Takes up to `n` slots for items this process is about to buffer, and
   * records them in the same synchronous step: as buffered by this process
   * (given back if it dies first) and as unfinished tasks.
   *
   * @returns how many were taken
   */
  reserve(n: number): number {
    const got = this.#slots!.tryTake(n);
    if (got > 0) {
      this.#producers?.add(got);
      try {
        this.#unfinished?.post(got);
      } catch (e) {
        // (a CPython queue's Condition lock held too long): nothing taken
        this.#producers?.add(-got);
        this.#slots!.post(got);
        throw e;
      }
    }
    return got;
  }

  /** Gives back `n` reserved slots whose items will not be put after all. */
  unreserve(n: number): void {
    this.#producers?.add(-n);
    this.#unfinished?.tryTake(n);
    this.#slots!.post(n);
  }

  /**
   * `n` items will never reach a caller (crash recovery dropped them, or
   * their producer died): their slots come free and they count as done.
   */
  lost(n: number): void {
    this.#slots?.post(n);
    this.#unfinished?.tryTake(n);
  }

  /**
   * `n` frames were taken from the pipe: their slots come free (a transport
   * whose reader does not free them in its own atomic step, e.g. CPython's).
   */
  taken(n: number): void {
    this.#slots?.post(n);
  }

  /**
   * `n` frames a dead reader took will never reach a caller: they count as
   * done (their slots went back when they were taken).
   */
  dropped(n: number): void {
    this.#unfinished?.tryTake(n);
  }

  /**
   * `n` frames this process took could not be decoded: they count as done,
   * and this process no longer holds them.
   */
  undecodable(n: number): void {
    if (this.#unfinished === undefined) return;
    this.#unfinished.tryTake(n);
    this.#consumers?.add(-n);
  }

  /**
   * This process handed out `n` items (to be marked done); the transport
   * recorded them in its shared record as it took them.
   */
  delivered(n: number): void {
    if (this.#unfinished !== undefined) this.#held += n;
  }

  /**
   * Marks one item done.
   *
   * @returns false if no item was unfinished
   */
  done(): boolean {
    if (this.#unfinished!.tryTake(1) === 0) return false;
    if (this.#held > 0) {
      this.#held--;
      this.#consumers?.add(-1);
    }
    return true;
  }

  /**
   * Gives back what producers that died with unwritten items held, and
   * marks done what consumers that died held (logging the loss).
   */
  sweep(): void {
    const lost = this.#producers?.sweep() ?? 0;
    if (lost > 0) this.lost(lost);
    const held = this.#consumers?.sweep() ?? 0;
    if (held > 0) this.#unfinished!.tryTake(held);
  }

  /** The next loss of a dead consumer this process has not been told of, or null. */
  nextLoss(): Loss | null {
    return this.#consumers?.nextLoss() ?? null;
  }

  /** Items put and not yet got, in every process (at least 0). */
  size(): number {
    this.sweep();
    return Math.max(0, this.#bound - this.#slots!.value());
  }

  /** Whether no slot is free. */
  full(): boolean {
    this.sweep();
    return this.#slots!.value() === 0;
  }

  /** Items put and not yet marked done. */
  unfinished(): number {
    return this.#unfinished!.value();
  }

  /** Waits for a free slot (nothing is taken): true to look again. */
  waitSlot(until: Until): Promise<boolean> {
    return this.#slots!.wait(until);
  }

  /** Waits for every task to be done: true to look again. */
  waitDone(until: Until): Promise<boolean> {
    return this.#unfinished!.waitZero(until);
  }
}
