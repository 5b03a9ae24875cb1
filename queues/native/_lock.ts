// A cross-process lock that survives the death of its holder: a word of
// shared memory holds the holder's pid (0: free). Taking the lock is one
// compare-and-swap that stores the pid, so a lock is never held by nobody in
// particular; a waiter that sees the holder is gone takes the lock over
// (another compare-and-swap: exactly one waiter wins). Waiters sleep on the
// word with a futex.

import { isAlive, pid, yieldCpu } from "../../ffi/process.ts";
import type { Lock } from "../_transport.ts";
import { SLICE_MS, type Until } from "../wait/_until.ts";
import { SharedWord } from "../wait/_words.ts";
import type { SharedPage } from "./_layout.ts";

/** Looks at a busy lock before sleeping on it. */
const SPINS = 20;

/** A lock on `page.i32[slot]`, with its sleepers counted in `page.i32[sleepers]`. */
export class FutexLock implements Lock {
  readonly #page: Int32Array;
  readonly #i64: BigInt64Array;
  readonly #slot: number;
  readonly #word: SharedWord;

  /**
   * @param page the shared page
   * @param slot the Int32 index of the lock word
   * @param sleepers the Int32 index counting sleepers
   */
  constructor(page: SharedPage, slot: number, sleepers: number) {
    this.#page = page.i32;
    this.#i64 = page.i64;
    this.#slot = slot;
    // A sleeper looks every slice whether the holder died.
    this.#word = new SharedWord(
      page.i32,
      slot,
      sleepers,
      page.address(slot),
      SLICE_MS,
    );
  }

  /** Takes the lock if it is free. */
  tryAcquire(): boolean {
    return Atomics.compareExchange(this.#page, this.#slot, 0, pid) === 0;
  }

  /**
   * Waits for the lock: a few looks on this thread (locks are held for
   * microseconds), then a sleep on the word.
   *
   * @returns whether this process now holds it (false: look again)
   */
  async wait(until: Until): Promise<boolean> {
    if (this.tryAcquire()) return true;
    for (let i = 0; i < SPINS; i++) {
      yieldCpu();
      if (this.tryAcquire()) return true;
    }
    const holder = Atomics.load(this.#page, this.#slot);
    if (holder === 0) return this.tryAcquire();
    await this.#word.changeFrom(holder, until);
    return this.tryAcquire();
  }

  /** Gives the lock back, waking one sleeper. */
  release(): void {
    Atomics.store(this.#page, this.#slot, 0);
    this.#word.wake(1);
  }

  // A lock whose word is the low half of an aligned 64-bit word keeps a
  // flag in the high half: set by its holder, cleared with the release.

  /** Holding the lock: sets the flag. */
  flag(): void {
    Atomics.store(this.#page, this.#slot + 1, 1);
  }

  /** Whether the flag is set (by this holder, or by a dead one taken over). */
  flagged(): boolean {
    return Atomics.load(this.#page, this.#slot + 1) === 1;
  }

  /** Holding the lock: clears the flag (after a takeover). */
  unflag(): void {
    Atomics.store(this.#page, this.#slot + 1, 0);
  }

  /** Gives the lock back and clears the flag in one store, waking a sleeper. */
  releaseFlagged(): void {
    Atomics.store(this.#i64, this.#slot >> 1, 0n);
    this.#word.wake(1);
  }

  /** The holder's pid (0: free). */
  holder(): number {
    return Atomics.load(this.#page, this.#slot);
  }

  /** Whether the lock is held by a process that no longer exists. */
  holderDead(): boolean {
    return this.deadHolder() !== 0;
  }

  /** The holder's pid if it no longer exists, else 0. */
  deadHolder(): number {
    const h = this.holder();
    return h !== 0 && h !== pid && !isAlive(h) ? h : 0;
  }

  /**
   * If the holder is dead, makes this process the holder. Exactly one of
   * several callers wins.
   *
   * @returns the dead holder's pid, or 0 if nothing was taken over
   */
  takeOverIfDead(): number {
    const h = this.holder();
    if (h === 0 || h === pid || isAlive(h)) return 0;
    return Atomics.compareExchange(this.#page, this.#slot, h, pid) === h
      ? h
      : 0;
  }
}
