// The read side's state: the pipe's read end, the read buffer in shared
// memory (shared by every reader, so nothing read ahead is stranded in one
// process), and what this process holds between takes: a big frame being
// read into its own buffer, and frames recovered by a resync.

import { POLLIN, pollNow } from "../../ffi/fd.ts";
import { DEFAULT_MAX_FRAME, readLong, readShort } from "../_framing.ts";
import type { SharedMemory } from "../../ffi/shm.ts";
import {
  CARRY_BASE,
  CARRY_END,
  CARRY_START,
  CONSUMED,
  PARKED_AT,
  PARKED_END,
  PARKED_HAVE,
  PARKED_LENGTH,
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
  readonly #shared: SharedMemory;
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
   * @param shared the memfd behind it (a parked frame's bytes go there)
   */
  constructor(fd: number, page: SharedPage, shared: SharedMemory) {
    this.fd = fd;
    this.#shared = shared;
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

  /**
   * Holding the read lock: parks the frame being read, for whoever reads
   * next (this process's caller stopped waiting): its bytes so far go to the
   * memfd, past the shared memory, and its length and progress to the page
   * (the length last: then it is parked). The read-lock holder stays inside
   * a frame (`reading`).
   */
  park(): void {
    const p = this.partial!;
    const f64 = this.#f64;
    if (p.payload !== null && p.have > 0) {
      this.#shared.resize(PARKED_AT + p.have);
      const have = p.payload.subarray(0, p.have);
      this.#shared.withRange(PARKED_AT, p.have, (bytes) => bytes.set(have));
    }
    f64[PARKED_HAVE] = p.have;
    f64[PARKED_END] = f64[CONSUMED];
    // A dropped frame (the rest of a dead reader's) parks with its length
    // negated: there are no bytes to keep.
    f64[PARKED_LENGTH] = p.payload === null ? -p.length : p.length;
    this.partial = null;
  }

  /** Holding the read lock: takes over a parked frame, if there is one. */
  unpark(): void {
    const f64 = this.#f64;
    const length = f64[PARKED_LENGTH];
    if (length === 0) return;
    const have = f64[PARKED_HAVE];
    let payload: Uint8Array | null = null;
    if (length > 0) {
      const own = payload = new Uint8Array(length);
      if (have > 0) {
        this.#shared.withRange(PARKED_AT, have, (bytes) => own.set(bytes));
      }
    }
    this.partial = new PartialFrame(payload, Math.abs(length), have);
    f64[PARKED_LENGTH] = 0;
    this.#shared.resize(PARKED_AT);
  }

  /**
   * Whether a frame is parked and nothing was read from the pipe since (the
   * stream's next byte is `head`): a reader that died without taking it
   * over left it intact.
   */
  parkedIntact(head: number): boolean {
    const f64 = this.#f64;
    return f64[PARKED_LENGTH] !== 0 && f64[PARKED_END] === head;
  }

  /**
   * Forgets a parked frame, if any, and gives back the memfd's room for one
   * (a reader may have died parking one).
   */
  dropParked(): void {
    this.#f64[PARKED_LENGTH] = 0;
    this.#shared.resize(PARKED_AT);
  }
}
