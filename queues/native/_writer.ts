// The write side of a native queue: whole frames under the write lock,
// small ones coalesced into few `write` calls, big ones written from their
// own buffer; each write call counted and its completed frames marked
// (`StreamMarks`) and recorded as written in the ledger.

import { MAX_IO, POLLOUT, writeSome } from "../../ffi/fd.ts";
import { headerSize, writeHeader } from "../_framing.ts";
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
/** Writes up to this size are atomic on a pipe: all or nothing. */
const PIPE_BUF = 4096;
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
  /** What a write left unwritten (the pipe was full), for `#drain`. */
  #pending: Uint8Array | null = null;
  #pendingOff = 0;
  #pendingLen = 0;

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
   * ones into few `write` calls. Waits for the lock and for room in the pipe;
   * `check` runs while waiting for the lock and may throw (only while the
   * lock is not yet held: a frame once begun is always finished). While
   * `detached()` says so, the waits are timers that do not keep the process
   * alive (it may exit without this write: readers then find the frame torn);
   * waking `until`'s group makes a wait look at `detached()` again.
   */
  async writeFrames(
    payloads: readonly Uint8Array[],
    check: () => void,
    detached: () => boolean,
    until: Until,
  ): Promise<void> {
    const lock = this.#lock;
    while (!lock.tryAcquire()) {
      check();
      if (detached()) await sleepUnref(DETACHED_LOOK_MS);
      else if (await lock.wait(until)) break;
      if (this.#recovery.recoverWriter()) break;
    }
    // `torn` is true while a frame is partly in the pipe: if a write fails
    // then, the lock stays held (the frame cannot be finished) and readers
    // find the frame torn once this process is gone.
    let torn = false;
    try {
      const out = this.#out;
      const ends = this.#outEnds;
      ends.length = 0;
      let fill = 0;
      for (const payload of payloads) {
        const length = payload.length;
        if (length >= DIRECT_WRITE || fill + 12 + length > out.length) {
          if (fill > 0) {
            this.#begin(ends);
            torn = true;
            await this.#writeAll(out, fill, detached, until);
            torn = false;
          }
          fill = 0;
          ends.length = 0;
        }
        if (length >= DIRECT_WRITE) {
          const h = writeHeader(out, 0, length);
          this.#begin(NO_ENDS, h + length);
          torn = true;
          await this.#writeAll(out, h, detached, until);
          ends.length = 0;
          ends.push(length);
          this.#begin(ends);
          await this.#writeAll(payload, length, detached, until);
          torn = false;
          ends.length = 0;
        } else {
          fill += writeHeader(out, fill, length);
          out.set(payload, fill);
          fill += length;
          ends.push(fill);
        }
      }
      if (fill > 0) {
        this.#begin(ends);
        torn = true;
        await this.#writeAll(out, fill, detached, until);
        torn = false;
      }
    } finally {
      // Released in the same synchronous stretch as the last write when the
      // pipe took everything at once.
      if (!torn) lock.release();
    }
  }

  /**
   * Writes one frame of at most {@linkcode PIPE_BUF} bytes now if the write
   * lock is free and the pipe has room (such a write is all or nothing).
   *
   * @returns whether it was written
   */
  writeSmallNow(payload: Uint8Array): boolean {
    const size = headerSize(payload.length) + payload.length;
    if (size > PIPE_BUF || !this.#lock.tryAcquire()) return false;
    try {
      const out = this.#out;
      const h = writeHeader(out, 0, payload.length);
      out.set(payload, h);
      const ends = this.#outEnds;
      ends.length = 0;
      ends.push(size);
      this.#begin(ends);
      return this.#write(out, 0, size) === size;
    } finally {
      this.#lock.release();
    }
  }

  /**
   * Writes what the pipe takes now of the rest remembered by `#writeNow`
   * (also called by a synchronous read in this process, which would
   * otherwise wait forever for this process's own half-written frame).
   */
  writePending(): void {
    const buf = this.#pending;
    if (buf === null) return;
    while (this.#pendingOff < this.#pendingLen) {
      const n = this.#write(
        buf,
        this.#pendingOff,
        this.#pendingLen - this.#pendingOff,
      );
      if (n === 0) return;
      this.#pendingOff += n;
    }
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
      if (frames > 0) this.#producers?.written(frames);
    }
    return n;
  }

  /**
   * Writes all of `buf[0, length)`: what the pipe takes now, then the rest
   * as room comes (also written by a synchronous read in this process,
   * through `writePending`).
   */
  async #writeAll(
    buf: Uint8Array,
    length: number,
    detached: () => boolean,
    until: Until,
  ): Promise<void> {
    let off = 0;
    while (off < length) {
      const n = this.#write(buf, off, length - off);
      if (n === 0) break;
      off += n;
    }
    if (off === length) return;
    this.#pending = buf;
    this.#pendingOff = off;
    this.#pendingLen = length;
    try {
      while (this.#pendingOff < this.#pendingLen) {
        if (detached()) await sleepUnref(DETACHED_LOOK_MS);
        else await fdReady(this.fd, POLLOUT, until);
        this.writePending();
      }
    } finally {
      this.#pending = null;
    }
  }
}
