// CPython's `SemLock`s as the seam's `Lock` and `Counter`: a named POSIX
// semaphore each. Waits sleep on the semaphore's value word (a futex, woken
// by every `sem_post`, CPython's included) through `wait/_words`, so that a
// timeout, an abort or a close ends them at once and no helper thread ever
// takes a count for a wait that is gone. The JoinableQueue's unfinished
// count goes through CPython's `Condition` protocol.

import { type NamedSemaphore, SEM_VALUE_MAX } from "../../ffi/semaphore.ts";
import type { Counter, Lock } from "../_transport.ts";
import { enter, type Source } from "../wait/_entry.ts";
import { type Until, within } from "../wait/_until.ts";
import { SharedWord } from "../wait/_words.ts";

/** The longest sleep on a semaphore before looking again (a missed wake). */
const SEM_SLICE_MS = 200;
/** Without the futex layout: how often a wait looks at the value. */
const POLL_MS = 2;
/** How often `join()` looks at the unfinished count (see `waitZero`). */
const JOIN_POLL_MS = 2;
/** The longest synchronous wait for the Condition's lock or a sleeper's wake. */
const COND_MS = 5000;

/** A source of waits that only their timers (deadline, signal, group) end. */
const TIMER_ONLY: Source = {
  add() {},
  remove: () => null,
};

/** Sleeps until the deadline of `until` (or its signal, or its group). */
function sleep(until: Until): Promise<boolean> {
  return enter(TIMER_ONLY, 0, 0, undefined, until);
}

/**
 * One named semaphore, with a wait for its value to rise above 0 (nothing
 * is taken: callers then try to take).
 */
export class Semaphore {
  readonly sem: NamedSemaphore;
  /** The value word to sleep on, or null (unknown `sem_t` layout: poll). */
  readonly #word: SharedWord | null;

  constructor(sem: NamedSemaphore) {
    this.sem = sem;
    const words = sem.words;
    this.#word = words === null
      ? null
      : new SharedWord(words, 0, 1, sem.pointer, SEM_SLICE_MS);
  }

  /**
   * Waits until the value is above 0, at most until `until`.
   *
   * @returns true when it may be (look again), false at the deadline
   * @throws the signal's reason (rejects) when it aborts
   */
  async waitPositive(until: Until): Promise<boolean> {
    if (this.sem.value() > 0) return true;
    const word = this.#word;
    if (word === null) {
      await sleep(within(until, POLL_MS));
      return performance.now() < until.deadline;
    }
    let woken = false;
    try {
      woken = await word.changeFrom(0, until);
    } finally {
      // A post may have woken this process, and only this one, just as its
      // wait ended: pass the wake on to another sleeper.
      if (!woken && this.sem.value() > 0) word.wake(1);
    }
    return woken;
  }
}

/** A CPython `Lock` (a semaphore of at most 1): any process may release it. */
export class SemLock extends Semaphore implements Lock {
  tryAcquire(): boolean {
    return this.sem.tryWait();
  }

  async wait(until: Until): Promise<boolean> {
    await this.waitPositive(until);
    return this.sem.tryWait();
  }

  release(): void {
    this.sem.post();
  }
}

/** A CPython `BoundedSemaphore`: the free slots of a `Queue`. */
export class SemCounter extends Semaphore implements Counter {
  value(): number {
    return this.sem.value();
  }

  tryTake(n: number): number {
    let got = 0;
    while (got < n && this.sem.tryWait()) got++;
    return got;
  }

  post(n: number): void {
    for (let i = 0; i < n; i++) this.sem.post();
  }

  wait(until: Until): Promise<boolean> {
    return this.waitPositive(until);
  }

  waitZero(): Promise<boolean> {
    throw new Error("Cannot wait for a CPython queue's slots to reach 0");
  }
}

/** The semaphores of a CPython `JoinableQueue`'s `_cond` and `_unfinished_tasks`. */
export interface ConditionParts {
  /** `_cond._lock`: an `RLock`'s semaphore. */
  readonly lock: NamedSemaphore;
  readonly sleeping: NamedSemaphore;
  readonly woken: NamedSemaphore;
  readonly waitSemaphore: NamedSemaphore;
  readonly unfinished: NamedSemaphore;
}

/**
 * A CPython `JoinableQueue`'s unfinished-tasks count, changed as CPython
 * changes it: under the `Condition`'s lock, and with `notify_all()` when it
 * reaches 0 (waking CPython's `join()`s). This process never sleeps on the
 * `Condition` (its sleepers must wake on their own thread, which a JS
 * caller cannot promise): `join()` here looks at the count every
 * {@linkcode JOIN_POLL_MS}. The lock is never held across an await.
 */
export class ConditionCounter implements Counter {
  readonly #c: ConditionParts;

  constructor(parts: ConditionParts) {
    this.#c = parts;
  }

  value(): number {
    return this.#c.unfinished.value();
  }

  /** `put()`: the count goes up under the lock. */
  post(n: number): void {
    this.#locked("count a task", () => {
      for (let i = 0; i < n; i++) this.#c.unfinished.post();
    });
  }

  /** `task_done()`: the count goes down under the lock, notifying at 0. */
  tryTake(n: number): number {
    return this.#locked("mark a task done", () => {
      let got = 0;
      while (got < n && this.#c.unfinished.tryWait()) got++;
      if (got > 0 && this.#c.unfinished.value() === 0) this.#notifyAll();
      return got;
    });
  }

  wait(): Promise<boolean> {
    throw new Error("Cannot wait for a rise of the unfinished count");
  }

  async waitZero(until: Until): Promise<boolean> {
    if (this.value() === 0) return true;
    await sleep(within(until, JOIN_POLL_MS));
    return performance.now() < until.deadline || this.value() === 0;
  }

  /** Runs `f` holding the Condition's lock (a short synchronous wait). */
  #locked<R>(what: string, f: () => R): R {
    const lock = this.#c.lock;
    if (!lock.waitBlocking(COND_MS)) {
      throw new Error(
        `Cannot ${what}: the JoinableQueue's condition lock ${lock.name} stayed held for ${COND_MS} ms (was its holder killed?)`,
      );
    }
    try {
      return f();
    } finally {
      lock.post();
    }
  }

  /** CPython's `Condition.notify_all()`, holding the lock. */
  #notifyAll(): void {
    const { sleeping, woken, waitSemaphore } = this.#c;
    waitSemaphore.tryWait(); // CPython: assert not self._wait_semaphore.acquire(False)
    // Sleepers that timed out since the last notify left a wake count.
    while (woken.tryWait()) sleeping.tryWait();
    let sleepers = 0;
    while (sleepers < SEM_VALUE_MAX && sleeping.tryWait()) {
      waitSemaphore.post();
      sleepers++;
    }
    // Each sleeper counts itself woken; one killed meanwhile never will.
    for (let i = 0; i < sleepers; i++) {
      if (!woken.waitBlocking(COND_MS)) break;
    }
    while (waitSemaphore.tryWait()) { /* rezero, as CPython does */ }
  }
}
