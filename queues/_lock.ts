// A cross-process lock that survives the death of its holder: a named
// semaphore plus the holder's pid in shared memory, so that a waiter can see
// that the holder is gone and take the lock over (exactly one waiter wins).

import { isAlive, pid } from "../ffi/process.ts";
import type { NamedSemaphore } from "../ffi/semaphore.ts";

/** A lock over a named semaphore (value 1) with its holder in `page[slot]`. */
export class ProcessLock {
  readonly sem: NamedSemaphore;
  readonly #page: Int32Array;
  readonly #slot: number;

  constructor(sem: NamedSemaphore, page: Int32Array, slot: number) {
    this.sem = sem;
    this.#page = page;
    this.#slot = slot;
  }

  /** Takes the lock if it is free. */
  tryAcquire(): boolean {
    if (!this.sem.tryWait()) return false;
    Atomics.store(this.#page, this.#slot, pid);
    return true;
  }

  /** Waits at most `ms` on a helper thread for the lock. */
  async wait(ms: number): Promise<boolean> {
    if (!await this.sem.wait(ms)) return false;
    Atomics.store(this.#page, this.#slot, pid);
    return true;
  }

  /** Gives the lock back. */
  release(): void {
    Atomics.store(this.#page, this.#slot, 0);
    this.sem.post();
  }

  /** The holder's pid (0: free, or between two steps of a live process). */
  holder(): number {
    return Atomics.load(this.#page, this.#slot);
  }

  /** Whether the lock is held by a process that no longer exists. */
  holderDead(): boolean {
    const h = this.holder();
    return h !== 0 && h !== pid && !isAlive(h);
  }

  /**
   * If the holder is dead, makes this process the holder (the semaphore stays
   * taken). Exactly one of several callers wins.
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
