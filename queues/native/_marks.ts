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
    this.#ends = ends;
    this.#next = 0;
    this.#base = f64[WRITTEN];
    f64[NEXT_END] = this.#base + (ends.length > 0 ? ends[0] : frameEnd);
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
    if (i < ends.length && ends[i] <= done) {
      const ring = this.#ring;
      let seq = f64[MARK_SEQ];
      while (i < ends.length && ends[i] <= done) {
        ring[seq++ & RING_MASK] = (this.#base + ends[i++]) >>> 0;
      }
      f64[MARK_SEQ] = seq;
    }
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

  /** The lowest mark index still in the ring, given `seq`. */
  oldest(seq: number): number {
    return Math.max(0, seq - RING);
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
