/**
 * POSIX named semaphores (`sem_open` and friends), the primitive under
 * CPython's `multiprocessing` locks (`SemLock`). Bound from libc.so.6 (glibc
 * 2.34+) or else libpthread.so.0.
 *
 * @module
 */

import { cstr, errno, osError } from "./libc.ts";
import { SEM_SYMBOLS } from "./symbols.ts";

/** Loads the `sem_*` functions from libc, or from libpthread before glibc 2.34. */
function load(): Deno.DynamicLibrary<typeof SEM_SYMBOLS>["symbols"] {
  try {
    return Deno.dlopen("libc.so.6", SEM_SYMBOLS).symbols;
  } catch {
    return Deno.dlopen("libpthread.so.0", SEM_SYMBOLS).symbols;
  }
}

const sem = load();

const O_CREAT = 0o100;
const O_EXCL = 0o200;
const EAGAIN = 11;
const EINTR = 4;
const ETIMEDOUT = 110;
/** `SEM_VALUE_MAX` on Linux: the largest value of a semaphore. */
export const SEM_VALUE_MAX = 0x7fffffff;
/** Bytes of glibc's `sem_t` on 64-bit Linux. */
const SEM_SIZE = 32;

const valueBuf = new Int32Array(1);
const valueBytes = new Uint8Array(valueBuf.buffer);
const timespec = new BigInt64Array(2);
const timespecBytes = new Uint8Array(timespec.buffer);

/**
 * One named semaphore, open in this process. Its words (glibc's `sem_t` on
 * 64-bit Linux: the value in the low 32 bits, the number of sleeping waiters
 * in the high 32 bits, shared futexes) let a waiter sleep on it with a
 * futex instead of a blocking `sem_wait`; {@linkcode NamedSemaphore.words}
 * is null where that layout is not found.
 */
export class NamedSemaphore {
  /** The name, e.g. `"/mp-abc123"`. */
  readonly name: string;
  /** The `sem_t *` of this process's mapping. */
  readonly pointer: NonNullable<Deno.PointerValue>;
  /** The value word (0) and the sleepers word (1), or null (unknown layout). */
  readonly words: Int32Array | null;
  #closed = false;

  private constructor(name: string, pointer: NonNullable<Deno.PointerValue>) {
    this.name = name;
    this.pointer = pointer;
    const words = new Int32Array(
      Deno.UnsafePointerView.getArrayBuffer(pointer, SEM_SIZE),
    );
    this.words = words[0] === this.value() && words[1] >= 0 ? words : null;
  }

  /**
   * Creates the semaphore `name` with `value` (`O_CREAT | O_EXCL`, mode
   * 0600, as CPython does).
   *
   * @throws {Deno.errors.AlreadyExists} if the name is taken
   */
  static create(name: string, value: number): NamedSemaphore {
    const p = sem.sem_open(cstr(name), O_CREAT | O_EXCL, 0o600, value);
    if (p === null) throw osError(errno(), `sem_open(${name})`);
    return new NamedSemaphore(name, p);
  }

  /**
   * Opens the existing semaphore `name`.
   *
   * @throws {Deno.errors.NotFound} if there is none
   */
  static open(name: string): NamedSemaphore {
    const p = sem.sem_open(cstr(name), 0, 0, 0);
    if (p === null) throw osError(errno(), `sem_open(${name})`);
    return new NamedSemaphore(name, p);
  }

  /**
   * Removes the name (the semaphore lives on while processes have it open).
   *
   * @returns false if there was no such name
   */
  static unlink(name: string): boolean {
    if (sem.sem_unlink(cstr(name)) === 0) return true;
    const code = errno();
    if (code === 2) return false;
    throw osError(code, `sem_unlink(${name})`);
  }

  /** Takes one if the value is above 0, without waiting. */
  tryWait(): boolean {
    for (;;) {
      if (sem.sem_trywait(this.pointer) === 0) return true;
      const code = errno();
      if (code === EAGAIN) return false;
      if (code !== EINTR) throw osError(code, `sem_trywait(${this.name})`);
    }
  }

  /**
   * Takes one, blocking this thread (and the event loop) at most `ms`.
   * Only for waits known to be short.
   *
   * @returns false when `ms` passed first
   */
  waitBlocking(ms: number): boolean {
    if (this.tryWait()) return true;
    // sem_timedwait's deadline is absolute, on CLOCK_REALTIME (Date.now()).
    const deadline = BigInt(Date.now() + Math.max(0, Math.ceil(ms)));
    timespec[0] = deadline / 1000n;
    timespec[1] = (deadline % 1000n) * 1_000_000n;
    for (;;) {
      if (sem.sem_timedwait(this.pointer, timespecBytes) === 0) return true;
      const code = errno();
      if (code === ETIMEDOUT) return false;
      if (code !== EINTR) throw osError(code, `sem_timedwait(${this.name})`);
    }
  }

  /** Adds one, waking a waiter. */
  post(): void {
    if (sem.sem_post(this.pointer) !== 0) {
      throw osError(errno(), `sem_post(${this.name})`);
    }
  }

  /** The current value. */
  value(): number {
    if (sem.sem_getvalue(this.pointer, valueBytes) !== 0) {
      throw osError(errno(), `sem_getvalue(${this.name})`);
    }
    return Math.max(0, valueBuf[0]);
  }

  /** Closes this process's mapping (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    sem.sem_close(this.pointer);
  }
}
