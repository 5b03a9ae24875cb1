// The write side of a native queue: whole frames under the write lock,
// small ones coalesced into few `write` calls, big ones written from their
// own buffer; each write call counted and its completed frames marked
// (`StreamMarks`) and recorded as written in the ledger. Frames are written
// by one synchronous core (`#flush`, `#start`) that the async path
// (`writeFrames`, which waits for the lock and for room) and the synchronous
// path (`writeNow`, which writes what the pipe takes now) share; a frame the
// synchronous path began and could not finish is finished by the next call.

import { MAX_IO, pollNow, POLLOUT, writeSome } from "../../ffi/fd.ts";
import { writeHeader } from "../_framing.ts";
import { yieldCpu } from "../../ffi/process.ts";
import { fdReady } from "../wait/_fds.ts";
import { sleepUnref, type Until } from "../wait/_until.ts";
import type { FutexLock } from "./_lock.ts";
import type { StreamMarks } from "./_marks.ts";
import type { ProducerTable } from "./_producers.ts";
import { step } from "./_steps.ts";
import type { Recovery } from "./_recovery.ts";

/** Payloads at least this large are written from their own buffer, uncopied. */
const DIRECT_WRITE = 32 * 1024;
/** Size of the coalescing buffer for small frames. */
const COALESCE = 64 * 1024;
/** How often a detached write looks for the lock or for room. */
const DETACHED_LOOK_MS = 2;
/** The frame ends of a buffer that holds no whole frame. */
const NO_ENDS: readonly number[] = [];

/** Writes frames to the pipe of one queue, for this process. */
export class Writer {
  readonly fd: number;
  readonly #lock: FutexLock;
  readonly #marks: StreamMarks;
  readonly #recovery: Recovery;
  /** This process's record of items written (none for a SimpleQueue). */
  readonly #producers: ProducerTable | undefined;
  /** Small frames coalesced for one write call. */
  readonly #out = new Uint8Array(COALESCE);
  /** The ends of the frames in `#out`. */
  readonly #outEnds: number[] = [];
  /** The buffer begun (its marks set) and not yet all written, if any. */
  #buf: Uint8Array | null = null;
  #off = 0;
  #len = 0;
  /** A big frame's payload, begun once its header (`#buf`) is written. */
  #big: Uint8Array | null = null;
  /**
   * This process holds the write lock for `writeNow` (a frame it began, or
   * the lock `waitWritable` took); no `writeFrames` call holds it.
   */
  #heldNow = false;
  /** Frames this process completed writing, ever (see `framesWritten`). */
  #framesWritten = 0;

  constructor(
    fd: number,
    lock: FutexLock,
    marks: StreamMarks,
    recovery: Recovery,
    producers: ProducerTable | undefined,
  ) {
    this.fd = fd;
    this.#lock = lock;
    this.#marks = marks;
    this.#recovery = recovery;
    this.#producers = producers;
  }

  /**
   * Writes whole frames for `payloads` under the write lock, coalescing small
   * ones into few `write` calls, after the rest of a frame `writeNow` began.
   * Waits for the lock and for room in the pipe; `check` runs while waiting
   * for the lock and may throw (only while the lock is not yet held: a frame
   * once begun is always finished). While `detached()` says so, the waits
   * are timers that do not keep the process alive (it may exit without this
   * write: readers then find the frame torn); waking `until`'s group makes a
   * wait look at `detached()` again.
   */
  async writeFrames(
    payloads: readonly Uint8Array[],
    check: () => void,
    detached: () => boolean,
    until: Until,
  ): Promise<void> {
    const lock = this.#lock;
    if (this.#heldNow) {
      this.#heldNow = false; // this call finishes what writeNow began
    } else {
      while (!lock.tryAcquire()) {
        check();
        if (detached()) await sleepUnref(DETACHED_LOOK_MS);
        else if (await lock.wait(until)) break;
        if (this.#recovery.recoverWriter()) break;
      }
    }
    try {
      let i = 0;
      for (;;) {
        while (!this.#flush()) {
          if (detached()) await sleepUnref(DETACHED_LOOK_MS);
          else await fdReady(this.fd, POLLOUT, until);
        }
        if (i === payloads.length) break;
        i = this.#start(payloads, i);
      }
    } finally {
      // Released in the same synchronous stretch as the last write when the
      // pipe took everything at once; kept if a write failed inside a frame
      // (it cannot be finished: readers find it torn once this process is
      // gone).
      if (this.#buf === null) lock.release();
    }
  }

  /**
   * Writes whole frames for `payloads[from]` onwards now, without awaiting:
   * if the write lock is free (or this process holds it for a frame an
   * earlier call began), as much as the pipe takes, waiting for room at
   * most `waitMs` at a time (a synchronous wait: 0 never blocks). A frame
   * begun and not finished stays begun, the lock held: the next call, or
   * {@linkcode writeFrames}, finishes it (see {@linkcode writing}).
   *
   * @returns how many payloads were handed over (written, or the last one
   *   begun)
   */
  writeNow(
    payloads: readonly Uint8Array[],
    from: number,
    waitMs: number,
  ): number {
    if (!this.#heldNow) {
      // The lock is held for microseconds at a time: with `waitMs`, look
      // again (yielding the CPU) until then.
      const until = waitMs > 0 ? performance.now() + waitMs : 0;
      while (!this.#lock.tryAcquire() && !this.#recovery.recoverWriter()) {
        if (waitMs <= 0 || performance.now() >= until) return 0;
        yieldCpu();
      }
      this.#heldNow = true;
      step("write:locked");
    }
    let i = from;
    try {
      for (;;) {
        while (!this.#flush()) {
          if (waitMs <= 0 || pollNow(this.fd, POLLOUT, waitMs) === 0) {
            return i - from;
          }
        }
        if (i === payloads.length) return i - from;
        i = this.#start(payloads, i);
      }
    } finally {
      if (this.#buf === null) {
        this.#heldNow = false;
        this.#lock.release();
      }
    }
  }

  /**
   * Waits until {@linkcode writeNow} can go on: for room in the pipe if a
   * frame it began is not finished, else for the write lock (which it then
   * holds for the next `writeNow`). While `detached()` says so, sleeps on a
   * timer that does not keep the process alive instead.
   */
  async waitWritable(detached: () => boolean, until: Until): Promise<void> {
    if (detached()) {
      await sleepUnref(DETACHED_LOOK_MS);
    } else if (this.#heldNow) {
      await fdReady(this.fd, POLLOUT, until);
    } else if (
      await this.#lock.wait(until) || this.#recovery.recoverWriter()
    ) {
      this.#heldNow = true;
    }
  }

  /**
   * Whether this process holds the write lock for `writeNow`: a frame it
   * began and did not finish, or the lock `waitWritable` took (the next
   * write call goes on with it, and gives the lock back when done).
   */
  writing(): boolean {
    return this.#heldNow;
  }

  /** Frames this process completed writing, ever (in the order it began them). */
  framesWritten(): number {
    return this.#framesWritten;
  }

  /**
   * Writes what the pipe takes now of a frame begun and not finished (also
   * called by a synchronous read in this process, which would otherwise wait
   * forever for this process's own half-written frame).
   */
  writePending(): void {
    if (this.#buf === null || !this.#flush() || !this.#heldNow) return;
    // A frame writeNow began is finished: the lock goes back at once.
    this.#heldNow = false;
    this.#lock.release();
  }

  /**
   * Holding the write lock, with nothing begun: begins the next buffer from
   * `payloads[i]`, either one big frame (its header now, its payload from
   * its own buffer next) or small frames coalesced into `#out`.
   *
   * @returns the index after the payloads it took
   */
  #start(payloads: readonly Uint8Array[], i: number): number {
    const out = this.#out;
    const ends = this.#outEnds;
    ends.length = 0;
    const first = payloads[i];
    if (first.length >= DIRECT_WRITE) {
      const h = writeHeader(out, 0, first.length);
      this.#begin(NO_ENDS, h + first.length);
      this.#setBuffer(out, h);
      this.#big = first;
      return i + 1;
    }
    let fill = 0;
    while (i < payloads.length) {
      const payload = payloads[i];
      const length = payload.length;
      if (length >= DIRECT_WRITE || fill + 12 + length > out.length) break;
      fill += writeHeader(out, fill, length);
      out.set(payload, fill);
      fill += length;
      ends.push(fill);
      i++;
    }
    this.#begin(ends);
    this.#setBuffer(out, fill);
    return i;
  }

  /**
   * Writes what the pipe takes now of the buffer begun (and then of a big
   * frame's payload).
   *
   * @returns whether nothing begun is left
   */
  #flush(): boolean {
    for (;;) {
      const buf = this.#buf;
      if (buf === null) return true;
      while (this.#off < this.#len) {
        const n = this.#write(buf, this.#off, this.#len - this.#off);
        if (n === 0) return false;
        this.#off += n;
      }
      this.#buf = null;
      const big = this.#big;
      if (big !== null) {
        this.#big = null;
        const ends = this.#outEnds;
        ends.length = 0;
        ends.push(big.length);
        this.#begin(ends);
        this.#setBuffer(big, big.length);
      }
    }
  }

  /** Makes `buf[0, length)` the buffer being written. */
  #setBuffer(buf: Uint8Array, length: number): void {
    this.#buf = buf;
    this.#off = 0;
    this.#len = length;
  }

  /**
   * Holding the write lock, starts a buffer whose frames end at `ends`: the
   * marks and the write journal (see `StreamMarks.begin`, `ProducerTable`).
   */
  #begin(ends: readonly number[], frameEnd = 0): void {
    this.#marks.begin(ends, frameEnd);
    this.#producers?.journal();
  }

  /** One `write` call, counted, its completed frames marked and recorded. */
  #write(buf: Uint8Array, off: number, length: number): number {
    const marks = this.#marks;
    marks.enter();
    let n = 0;
    try {
      n = writeSome(this.fd, buf, off, Math.min(length, MAX_IO));
      step("write:wrote");
    } finally {
      const frames = marks.leave(n);
      step("write:marked");
      if (frames > 0) {
        this.#framesWritten += frames;
        this.#producers?.written(frames);
      }
    }
    return n;
  }
}
