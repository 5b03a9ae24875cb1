/**
 * POSIX named semaphores (`sem_open` and friends).
 *
 * @module
 */

import { cstr, errno, libc, osError, unwrap } from "./libc.ts";

const O_CREAT = 0o100;
const O_EXCL = 0o200;
const EAGAIN = 11;
const EINTR = 4;
const ENOENT = 2;

/** `SEM_VALUE_MAX` on Linux. */
export const SEM_VALUE_MAX = 2147483647;

/**
 * One open named semaphore. Waiting calls that sleep run on a helper thread;
 * `close()` waits for them to return before unmapping the semaphore.
 */
export class NamedSemaphore {
  /** The name, starting with `/`. */
  readonly name: string;
  #ptr: Deno.PointerObject | null;
  #pending = 0;
  #closing = false;
  readonly #value = new Int32Array(1);

  private constructor(name: string, ptr: Deno.PointerObject) {
    this.name = name;
    this.#ptr = ptr;
  }

  /**
   * Creates a new semaphore; fails with `AlreadyExists` if the name is taken.
   */
  static create(name: string, value: number): NamedSemaphore {
    const ptr = libc.sem_open(cstr(name), O_CREAT | O_EXCL, 0o600, value);
    if (ptr === null) throw osError(errno(), `sem_open '${name}'`);
    return new NamedSemaphore(name, ptr);
  }

  /** Opens an existing semaphore. */
  static open(name: string): NamedSemaphore {
    const ptr = libc.sem_open(cstr(name), 0, 0, 0);
    if (ptr === null) throw osError(errno(), `sem_open '${name}'`);
    return new NamedSemaphore(name, ptr);
  }

  /** Removes `name`; returns false if it did not exist. */
  static unlink(name: string): boolean {
    if (libc.sem_unlink(cstr(name)) === 0) return true;
    const code = errno();
    if (code === ENOENT) return false;
    throw osError(code, `sem_unlink '${name}'`);
  }

  #handle(): Deno.PointerObject {
    if (this.#ptr === null || this.#closing) {
      throw new Deno.errors.BadResource(`Semaphore '${this.name}' is closed`);
    }
    return this.#ptr;
  }

  /** Decrements without waiting; returns false if the value is 0. */
  tryWait(): boolean {
    const ptr = this.#handle();
    for (;;) {
      if (libc.sem_trywait(ptr) === 0) return true;
      const code = errno();
      if (code === EAGAIN) return false;
      if (code !== EINTR) throw osError(code, `sem_trywait '${this.name}'`);
    }
  }

  /**
   * Waits on a helper thread for at most `timeoutMs` to decrement.
   *
   * @returns whether it decremented
   */
  async wait(timeoutMs: number): Promise<boolean> {
    const ptr = this.#handle();
    const deadline = Date.now() + Math.max(0, Math.ceil(timeoutMs));
    const ts = new BigInt64Array(2);
    ts[0] = BigInt(Math.floor(deadline / 1000));
    ts[1] = BigInt((deadline % 1000) * 1e6);
    this.#pending++;
    try {
      return await libc.sem_timedwait_nb(ptr, new Uint8Array(ts.buffer)) === 0;
    } finally {
      if (--this.#pending === 0 && this.#closing) this.#release();
    }
  }

  /** Increments, waking one waiter. */
  post(): void {
    unwrap(libc.sem_post(this.#handle()), `sem_post '${this.name}'`);
  }

  /** The current value. */
  value(): number {
    unwrap(
      libc.sem_getvalue(this.#handle(), new Uint8Array(this.#value.buffer)),
      `sem_getvalue '${this.name}'`,
    );
    return Math.max(0, this.#value[0]);
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closing;
  }

  /**
   * Closes this process's handle (the name stays; see `unlink`). Idempotent;
   * a wait in progress finishes first.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#pending === 0) this.#release();
  }

  #release(): void {
    if (this.#ptr !== null) {
      libc.sem_close(this.#ptr);
      this.#ptr = null;
    }
  }
}
