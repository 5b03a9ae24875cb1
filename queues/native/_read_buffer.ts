// The read side's state: the pipe's read end, the read buffer in shared
// memory (shared by every reader, so nothing read ahead is stranded in one
// process), and what this process holds between takes: a big frame being
// read into its own buffer, and frames recovered by a resync.

import { POLLIN, pollNow } from "../../ffi/fd.ts";
import { DEFAULT_MAX_FRAME, readLong, readShort } from "../_framing.ts";
import {
  CARRY_BASE,
  CARRY_END,
  CARRY_START,
  READING,
  type SharedPage,
} from "./_layout.ts";

/** A frame whose payload is being read into its own buffer. */
export class PartialFrame {
  /** The payload; null for the rest of a dead reader's frame (dropped). */
  readonly payload: Uint8Array | null;
  readonly length: number;
  have: number;

  constructor(payload: Uint8Array | null, length: number, have: number) {
    this.payload = payload;
    this.length = length;
    this.have = have;
  }
}

/**
 * The read buffer holds stream bytes [carryStart, carryEnd) (carryStart is
 * always a frame start) at byte carryStart - carryBase of the buffer. Each
 * is one store, so a reader killed between two of them leaves a consistent
 * buffer; carryEnd is -1 while it is invalid.
 */
export class ReadBuffer {
  readonly fd: number;
  readonly #page: Int32Array;
  readonly #f64: Float64Array;
  readonly #carry: Uint8Array;
  /** The frame this process is reading into its own buffer, if any. */
  partial: PartialFrame | null = null;
  /** Frames recovered by a resync, handed out before the pipe's. */
  stash: Uint8Array[] = [];
  /** The largest payload one frame may claim. */
  maxFrame: number = DEFAULT_MAX_FRAME;

  /**
   * @param fd the pipe's read end
   * @param page the shared page
   */
  constructor(fd: number, page: SharedPage) {
    this.fd = fd;
    this.#page = page.i32;
    this.#f64 = page.f64;
    this.#carry = page.carry;
  }

  /** Whether at least one byte (or end of file) is waiting, here or in the pipe. */
  readable(): boolean {
    return pollNow(this.fd, POLLIN) !== 0 || this.holdsFrame() ||
      this.stash.length > 0;
  }

  /** Bytes of the stream held in the buffer. */
  carried(): number {
    return this.#f64[CARRY_END] - this.#f64[CARRY_START];
  }

  /** Whether the buffer holds a whole frame. */
  holdsFrame(): boolean {
    const f64 = this.#f64;
    const left = f64[CARRY_END] - f64[CARRY_START];
    if (left < 4) return false;
    const pos = f64[CARRY_START] - f64[CARRY_BASE];
    let length = readShort(this.#carry, pos);
    let hsize = 4;
    if (length === -1) {
      if (left < 12) return false;
      length = readLong(this.#carry, pos + 4);
      hsize = 12;
    }
    return left >= hsize + length;
  }

  /**
   * Empties the buffer at stream offset `at`, a frame start. The buffer is
   * invalid (carryEnd -1) until the last store.
   */
  empty(at: number): void {
    const f64 = this.#f64;
    f64[CARRY_END] = -1;
    f64[CARRY_START] = at;
    f64[CARRY_BASE] = at;
    f64[CARRY_END] = at;
  }

  /**
   * Starts reading a frame of `length` bytes into its own buffer (or, with
   * `payload` null, dropping it), `have` bytes of it already there. The
   * read-lock holder is inside a frame until it is done.
   */
  begin(payload: Uint8Array | null, length: number, have: number): void {
    this.partial = new PartialFrame(payload, length, have);
    Atomics.store(this.#page, READING, 1);
  }

  /** The frame being read is done (or abandoned). */
  end(): void {
    this.partial = null;
    Atomics.store(this.#page, READING, 0);
  }
}
