// Byte counts and frame marks of a native queue's stream, so that a reader
// taking over from a dead one finds the next frame boundary exactly: every
// write call is counted in `written` (a seqlock, `writeSeq`, odd while a
// call is in flight) and every frame end goes into a ring of marks. The
// stream offset of the pipe's next byte is `written` minus the bytes waiting
// in the pipe, read while no write call is in flight.

import { bytesAvailable } from "../../ffi/fd.ts";
import { yieldCpu } from "../../ffi/process.ts";
import {
  CONSUMED,
  JOURNAL_SEQ_END,
  JOURNAL_SEQ_START,
  MARK_SEQ,
  NEXT_END,
  RING,
  type SharedPage,
  WRITE_SEQ,
  WRITTEN,
} from "./_layout.ts";

const RING_MASK = RING - 1;

/** Where the stream stands, read consistently by {@linkcode StreamMarks.snapshot}. */
export interface Snapshot {
  /** The stream offset of the pipe's next byte. */
  head: number;
  /** How many marks were ever put in the ring. */
  seq: number;
  /** Where the frame being written will end. */
  nextEnd: number;
}

/** The counts and marks, and this process's part in them as a writer. */
export class StreamMarks {
  readonly #page: Int32Array;
  readonly #f64: Float64Array;
  readonly #ring: Uint32Array;
  /** Frame ends (offsets in the buffer being written) not yet marked. */
  #ends: readonly number[] = [];
  #next = 0;
  /** The stream offset where the buffer being written starts. */
  #base = 0;

  /** @param page the shared page */
  constructor(page: SharedPage) {
    this.#page = page.i32;
    this.#f64 = page.f64;
    this.#ring = page.ring;
  }

  /** Bytes written to the pipe so far, by every process (it only grows). */
  written(): number {
    return this.#f64[WRITTEN];
  }

  /**
   * Starts writing a buffer whose frames end at `ends` (offsets in it); with
   * none, `frameEnd` is where the frame it begins will end.
   */
  begin(ends: readonly number[], frameEnd = 0): void {
    const f64 = this.#f64;
    const base = this.#base = f64[WRITTEN];
    this.#ends = ends;
    this.#next = 0;
    // The marks of every frame in the buffer go into the ring now; `markSeq`
    // passes them as they complete (and a successor can, if this dies).
    const ring = this.#ring;
    const seq = f64[MARK_SEQ];
    for (let i = 0; i < ends.length; i++) {
      ring[(seq + i) & RING_MASK] = (base + ends[i]) >>> 0;
    }
    f64[JOURNAL_SEQ_START] = seq;
    f64[JOURNAL_SEQ_END] = seq + ends.length;
    f64[NEXT_END] = base + (ends.length > 0 ? ends[0] : frameEnd);
  }

  /** A write call is about to be made. */
  enter(): void {
    Atomics.add(this.#page, WRITE_SEQ, 1);
  }

  /**
   * A write call moved `n` bytes: counts them and marks the frames they
   * completed.
   *
   * @returns how many frames were completed
   */
  leave(n: number): number {
    const f64 = this.#f64;
    f64[WRITTEN] += n;
    const done = f64[WRITTEN] - this.#base;
    const ends = this.#ends;
    const first = this.#next;
    let i = first;
    while (i < ends.length && ends[i] <= done) i++;
    if (i > first) f64[MARK_SEQ] += i - first;
    this.#next = i;
    if (i < ends.length) f64[NEXT_END] = this.#base + ends[i];
    Atomics.add(this.#page, WRITE_SEQ, 1);
    return i - first;
  }

  /**
   * Reads, while no write call is in flight, the stream offset of the pipe's
   * next byte and the writers' marks.
   *
   * @returns null if a writer died inside a write call (`writerDead()`)
   */
  snapshot(readFd: number, writerDead: () => boolean): Snapshot | null {
    const page = this.#page;
    const f64 = this.#f64;
    for (let spins = 0;; spins++) {
      const before = Atomics.load(page, WRITE_SEQ);
      if ((before & 1) === 0) {
        const written = f64[WRITTEN];
        const seq = f64[MARK_SEQ];
        const nextEnd = f64[NEXT_END];
        const avail = bytesAvailable(readFd);
        if (Atomics.load(page, WRITE_SEQ) === before) {
          return { head: written - avail, seq, nextEnd };
        }
      } else if (spins > 100 && writerDead()) {
        return null;
      }
      yieldCpu();
    }
  }

  /** The stream offset of mark `i` (`near` is within 2^31 bytes of it). */
  mark(i: number, near: number): number {
    return near + ((this.#ring[i & RING_MASK] - (near >>> 0)) | 0);
  }

  /**
   * The lowest mark index still in the ring, given `seq` (the marks of the
   * buffer being written, put in ahead, have taken the oldest slots).
   */
  oldest(seq: number): number {
    const ahead = Math.max(0, this.#f64[JOURNAL_SEQ_END] - seq);
    return Math.max(0, seq - RING + ahead);
  }

  /**
   * Holding the read lock, the write lock's holder dead inside a write call
   * (`writeSeq` odd): finishes its count. The pipe has had `end` bytes
   * written in all (bytes read plus bytes waiting); the frames of its buffer
   * that end by then are marked, and `written` is `end`.
   */
  finishDeadWrite(end: number): void {
    const page = this.#page;
    const f64 = this.#f64;
    let seq = f64[MARK_SEQ];
    const last = f64[JOURNAL_SEQ_END];
    while (seq < last && this.mark(seq, end) <= end) seq++;
    f64[MARK_SEQ] = seq;
    f64[WRITTEN] = end;
    if (seq < last) f64[NEXT_END] = this.mark(seq, end);
    if ((Atomics.load(page, WRITE_SEQ) & 1) === 1) {
      Atomics.add(page, WRITE_SEQ, 1);
    }
  }

  /**
   * How many frames of the buffer in the write journal are marked complete
   * (its writer being dead or done).
   */
  journalCompleted(): number {
    const f64 = this.#f64;
    return Math.max(0, f64[MARK_SEQ] - f64[JOURNAL_SEQ_START]);
  }

  /** Whether a write call is in flight (or its caller died in it). */
  writing(): boolean {
    return (Atomics.load(this.#page, WRITE_SEQ) & 1) === 1;
  }

  /**
   * Holding both locks with the pipe empty: restarts the byte counts at
   * what was consumed (a boundary, marked).
   */
  restart(): void {
    const page = this.#page;
    const f64 = this.#f64;
    if ((Atomics.load(page, WRITE_SEQ) & 1) === 1) {
      Atomics.add(page, WRITE_SEQ, 1); // a writer died inside a write call
    }
    f64[WRITTEN] = f64[NEXT_END] = f64[CONSUMED];
    const seq = f64[MARK_SEQ];
    this.#ring[seq & RING_MASK] = f64[CONSUMED] >>> 0;
    f64[MARK_SEQ] = seq + 1;
  }
}
