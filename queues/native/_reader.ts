// The read side of a native queue: waits for data without holding the read
// lock, then takes whole frames under it, through the shared read buffer
// (small frames) or into a buffer of their own (big ones), decoding each
// before the lock is released. The slots of the frames taken are given back
// and their delivery recorded before the lock is released.

import { POLLIN, pollNow, readSome, WOULD_BLOCK } from "../../ffi/fd.ts";
import { isAlive, pid, yieldCpu } from "../../ffi/process.ts";
import { checkLength, readLong, readShort } from "../_framing.ts";
import {
  DecodeFailure,
  type FrameDecoder,
  NOTHING,
  type ReadRequest,
} from "../_transport.ts";
import { fdReady, pokeFd } from "../wait/_fds.ts";
import { SLICE_MS, within } from "../wait/_until.ts";
import {
  CARRY,
  CARRY_BASE,
  CARRY_END,
  CARRY_READING,
  CARRY_START,
  CONSUMED,
  DELIVERED,
  HOLD_FROM,
  type SharedPage,
  SPINNER,
} from "./_layout.ts";
import type { ConsumerTable } from "./_consumers.ts";
import type { FutexCounter } from "./_counter.ts";
import type { FutexLock } from "./_lock.ts";
import { step } from "./_steps.ts";
import type { ReadBuffer } from "./_read_buffer.ts";
import type { Recovery } from "./_recovery.ts";
import type { Writer } from "./_writer.ts";

/** How long a reader looks for data on its own thread before sleeping. */
const SPIN_MS = 0.1;
/** Scratch space to read (and drop) the rest of a dead reader's frame. */
const SCRATCH = 64 * 1024;
/** Frames larger than this are read into their own buffer, not the carry. */
const BIG = 16 * 1024;

/** Reads frames from the pipe of one queue, for this process. */
export class Reader {
  readonly #page: Int32Array;
  readonly #f64: Float64Array;
  readonly #carry: Uint8Array;
  readonly #lock: FutexLock;
  readonly #buffer: ReadBuffer;
  readonly #recovery: Recovery;
  readonly #writer: Writer;
  /** The free slots (none for a SimpleQueue). */
  readonly #slots: FutexCounter | undefined;
  /** This process's record of items got and not done (a JoinableQueue). */
  readonly #consumers: ConsumerTable | undefined;
  readonly #scratch = new Uint8Array(SCRATCH);
  /** Whether a frame waits outside the pipe (for waits on the pipe). */
  readonly #heldElsewhere: () => boolean;
  /** Whether this process's feeder has frames queued to write. */
  queued = false;

  constructor(
    page: SharedPage,
    lock: FutexLock,
    buffer: ReadBuffer,
    recovery: Recovery,
    writer: Writer,
    slots: FutexCounter | undefined,
    consumers: ConsumerTable | undefined,
  ) {
    this.#page = page.i32;
    this.#f64 = page.f64;
    this.#carry = page.carry;
    this.#lock = lock;
    this.#buffer = buffer;
    this.#recovery = recovery;
    this.#writer = writer;
    this.#slots = slots;
    this.#consumers = consumers;
    this.#heldElsewhere = () => buffer.holdsFrame() || buffer.stash.length > 0;
  }

  /**
   * Reads up to `maxItems` whole frames already in the pipe, waiting (without
   * holding the read lock) until at least one has begun to arrive or the
   * deadline passes. `check` runs before every attempt and may throw.
   * Each payload goes through `decode` before the read lock is released (a
   * payload it cannot decode gives a {@linkcode DecodeFailure} in its place).
   *
   * @returns the decoded payloads, or null when the deadline passed
   */
  async readFrames(request: ReadRequest): Promise<unknown[] | null> {
    const { maxItems, maxBytes, until, check, decode } = request;
    const { signal } = until;
    const buffer = this.#buffer;
    const lock = this.#lock;
    const recovery = this.#recovery;
    let yielded = false;
    for (;;) {
      check();
      signal?.throwIfAborted();
      if (buffer.stash.length > 0) {
        return buffer.stash.splice(0, maxItems).map((f) =>
          decodeOne(decode, f)
        );
      }
      if (!lock.tryAcquire() && !recovery.recoverReader()) {
        if (until.deadline <= performance.now()) return null;
        if (!buffer.readable()) {
          yielded = await this.#awaitData(request, yielded);
          continue;
        }
        if (!await lock.wait(until) && !recovery.recoverReader()) continue;
        try {
          check();
          signal?.throwIfAborted();
        } catch (e) {
          this.#release(0);
          throw e;
        }
      }
      if (recovery.pending()) {
        try {
          await recovery.resync();
        } catch (e) {
          this.#release(0);
          throw e;
        }
      }
      let frames: unknown[] | null = null;
      try {
        if (buffer.partial === null) buffer.unpark();
        frames = buffer.partial === null
          ? this.#takeSync(maxItems, maxBytes, decode)
          : [];
        if (frames !== null && buffer.partial !== null) {
          await this.#finishAsync(frames, request);
        }
        if (frames === null) recovery.discardTornCarry();
      } finally {
        this.#release(frames?.length ?? 0);
      }
      if (frames !== null && frames.length > 0) return frames;
      if (until.deadline <= performance.now()) return null;
      yielded = await this.#awaitData(request, yielded);
    }
  }

  /**
   * Reads one frame without waiting for data: {@linkcode NOTHING} if the
   * pipe is empty or another reader holds the lock. A frame that has begun
   * to arrive is finished, waiting synchronously for its rest.
   */
  readFrameNow(decode: FrameDecoder): unknown {
    const buffer = this.#buffer;
    const recovery = this.#recovery;
    if (buffer.stash.length > 0) {
      return decodeOne(decode, buffer.stash.shift()!);
    }
    if (!this.#lock.tryAcquire() && !recovery.recoverReader()) return NOTHING;
    let frames: unknown[] | null = null;
    try {
      if (recovery.pending() && !recovery.resyncNow()) return NOTHING;
      frames = buffer.partial === null
        ? this.#takeSync(1, Infinity, decode)
        : [];
      if (frames === null) {
        recovery.discardTornCarry();
        return NOTHING;
      }
      while (buffer.partial !== null) {
        this.#continuePartial(frames, decode);
        if (buffer.partial === null) break;
        // A frame has begun and its rest is not there yet. If this process
        // is its writer, write for it; else it waits, parked, for whoever
        // reads next (this call never blocks).
        this.#writer.writePending();
        if (pollNow(buffer.fd, POLLIN) !== 0) continue;
        this.#parkUnlessTorn();
      }
      return frames.length === 0 ? NOTHING : frames[0];
    } finally {
      this.#release(frames?.length ?? 0);
    }
  }

  /**
   * Ends a hold of the read lock that took `taken` frames: gives their slots
   * back and records how far that goes in one step, then records that every
   * frame before the read buffer's first went to this process's caller, and
   * releases the lock. A reader that dies at any step leaves its successor
   * enough to give each slot back exactly once and to count as lost exactly
   * the frames its caller never got (`Recovery.resyncNow`).
   */
  #release(taken: number): void {
    const f64 = this.#f64;
    const start = f64[CARRY_START];
    step("read:took");
    this.#slots?.postTagged(taken, start);
    step("read:released");
    // From here on, a successor counts every frame since the hold began as
    // lost (none reaches this process's caller unless the lock is freed).
    f64[HOLD_FROM] = f64[DELIVERED];
    this.#lock.flag();
    f64[DELIVERED] = start;
    step("read:delivered");
    this.#lock.releaseFlagged();
    // This process holds them now (a JoinableQueue: until taskDone()); the
    // next statement after the release, so that a process killed after it
    // got frames is found holding them.
    if (taken > 0) this.#consumers?.add(taken);
    // Frames left in the read buffer do not make the pipe readable: this
    // process's waits look at once, other processes' within a slice.
    if (this.#buffer.holdsFrame()) pokeFd(this.#buffer.fd);
  }

  /**
   * Waits for data, at most until the request's deadline. If this process's
   * own feeder has frames to write, lets it run first (a few microtasks,
   * once per read: `yielded`) and returns at once, to look again;
   * otherwise spins briefly, then sleeps until the pipe is readable.
   *
   * @returns `yielded`, or true if this call only yielded
   */
  async #awaitData(request: ReadRequest, yielded: boolean): Promise<boolean> {
    if (this.queued) {
      if (!yielded) {
        for (let k = 0; k < 8; k++) await null;
        return true;
      }
    } else if (this.#spin()) return yielded;
    await fdReady(this.#buffer.fd, POLLIN, request.until, this.#heldElsewhere);
    return yielded;
  }

  /**
   * Before sleeping on a helper thread (a hop of tens of microseconds),
   * waits up to {@linkcode SPIN_MS} on this thread for data, yielding the
   * CPU between looks (so a writer on the same CPU runs).
   *
   * @returns whether data (or end of file) arrived
   */
  #spin(): boolean {
    // One spinner per queue: several would only take the CPU from writers.
    const page = this.#page;
    const other = Atomics.compareExchange(page, SPINNER, 0, pid);
    if (
      other !== 0 &&
      (isAlive(other) ||
        Atomics.compareExchange(page, SPINNER, other, pid) !== other)
    ) return false;
    try {
      const until = performance.now() + SPIN_MS;
      do {
        yieldCpu();
        if (pollNow(this.#buffer.fd, POLLIN) !== 0) return true;
      } while (performance.now() < until);
      return false;
    } finally {
      Atomics.store(page, SPINNER, 0);
    }
  }

  /**
   * Holding the read lock: takes the frames in the shared read buffer and
   * what the pipe has, up to the limits, without waiting. A frame larger
   * than the buffer's share is left begun in `buffer.partial`.
   *
   * @returns the complete payloads (possibly none yet), or null if nothing
   *   at all was there
   */
  #takeSync(
    maxItems: number,
    maxBytes: number,
    decode: FrameDecoder,
  ): unknown[] | null {
    const frames: unknown[] = [];
    let bytes = 0;
    const buf = this.#carry;
    const f64 = this.#f64;
    const buffer = this.#buffer;
    const maxFrame = buffer.maxFrame;
    if (f64[CARRY_END] < 0) buffer.empty(f64[CONSUMED]); // not expected
    let start = f64[CARRY_START];
    let end = f64[CARRY_END];
    let base = f64[CARRY_BASE];
    if (start === end && base !== start) f64[CARRY_BASE] = base = start;
    let eof = false;
    let bad = false; // a bad header follows the frames taken
    for (;;) {
      // Take every complete frame in the buffer, up to the limits.
      let pos = start - base;
      const n = end - base;
      let hsize = 0;
      let length = -1;
      while (
        frames.length < maxItems && (frames.length === 0 || bytes < maxBytes)
      ) {
        const left = n - pos;
        hsize = 0;
        length = -1;
        if (left < 4) break;
        length = readShort(buf, pos);
        hsize = 4;
        if (length === -1) {
          if (left < 12) {
            hsize = 0;
            break;
          }
          length = readLong(buf, pos + 4);
          hsize = 12;
        }
        if (length < 0 || length > maxFrame) {
          // The frames before it go out first; the next take throws.
          if (frames.length > 0) {
            bad = true;
            break;
          }
          if (length === -1) {
            throw new RangeError("Cannot read frame: 8-byte length above 2^53");
          }
          checkLength(length, maxFrame);
        }
        if (left < hsize + length) break;
        frames.push(
          decodeOne(
            decode,
            buf.subarray(pos + hsize, pos + hsize + length),
            false,
          ),
        );
        bytes += length;
        pos += hsize + length;
        hsize = 0;
      }
      if (base + pos !== start) f64[CARRY_START] = start = base + pos;
      if (
        bad || frames.length >= maxItems ||
        (frames.length > 0 && bytes >= maxBytes)
      ) break;
      if (hsize > 0 && hsize + length > BIG) {
        // A big frame: read the rest of it straight into its own buffer
        // (in the next take if this one has frames: they go out first).
        if (frames.length > 0) break;
        this.#beginPartial(buf.subarray(pos, n), hsize, length);
        this.#continuePartial(frames, decode);
        break;
      }
      if (eof) {
        if (start === end) {
          if (frames.length > 0) break;
          throw new Deno.errors.UnexpectedEof(
            "Cannot read from queue: every writer has closed the pipe",
          );
        }
        if (frames.length > 0) break; // the error comes with the next take
        const left = end - start;
        buffer.empty(end);
        throw new Deno.errors.UnexpectedEof(
          `Cannot read frame: the pipe ended in the middle of a frame, after ${
            hsize > 0
              ? `${left - hsize} of ${length} payload bytes`
              : `${left} header bytes`
          }`,
        );
      }
      // Read more: make room at the end (moving what is left to the front).
      if (n > CARRY - BIG - 12) {
        const left = end - start;
        const overlap = pos < left;
        if (overlap) f64[CARRY_END] = -1; // moving: the bytes are not valid
        buf.copyWithin(0, pos, n);
        f64[CARRY_BASE] = base = start;
        if (overlap) f64[CARRY_END] = end;
      }
      const at = end - base;
      const page = this.#page;
      page[CARRY_READING] = 1;
      const r = readSome(buffer.fd, buf, at, CARRY - at);
      if (r === WOULD_BLOCK) {
        page[CARRY_READING] = 0;
        break;
      }
      f64[CARRY_END] = end = end + r;
      page[CARRY_READING] = 0;
      f64[CONSUMED] += r;
      if (r === 0) eof = true;
    }
    return frames.length === 0 && buffer.partial === null ? null : frames;
  }

  /**
   * Starts reading a big frame into its own buffer: `have` holds its header
   * (`hsize` bytes) and the first bytes of its payload, taken from the read
   * buffer.
   */
  #beginPartial(have: Uint8Array, hsize: number, length: number): void {
    const payload = new Uint8Array(length);
    payload.set(have.subarray(hsize));
    // Invalid until the frame is read: a reader taking over from this one
    // finds the frame's end among the writers' marks.
    this.#f64[CARRY_END] = -1;
    this.#buffer.begin(payload, length, have.length - hsize);
  }

  /**
   * Reads more of the begun frame without waiting; on completion appends it
   * to `frames` and clears `buffer.partial`.
   */
  #continuePartial(frames: unknown[], decode: FrameDecoder): void {
    const buffer = this.#buffer;
    const p = buffer.partial!;
    const payload = p.payload;
    while (p.have < p.length) {
      const n = payload === null // dropped: read into the scratch buffer
        ? readSome(
          buffer.fd,
          this.#scratch,
          0,
          Math.min(this.#scratch.length, p.length - p.have),
        )
        : readSome(buffer.fd, payload, p.have, p.length - p.have);
      if (n === WOULD_BLOCK) return;
      if (n === 0) this.#eofInFrame();
      this.#f64[CONSUMED] += n;
      p.have += n;
    }
    buffer.end();
    buffer.empty(this.#f64[CONSUMED]); // the next frame starts here
    if (payload !== null) frames.push(decodeOne(decode, payload));
  }

  /**
   * Holding the read lock: reads the rest of a begun frame, waiting for it.
   * If the caller stops waiting first (its deadline, signal or close), the
   * frame is parked for whoever reads next.
   */
  async #finishAsync(frames: unknown[], request: ReadRequest): Promise<void> {
    const buffer = this.#buffer;
    const { until, check, decode } = request;
    try {
      while (buffer.partial !== null) {
        this.#continuePartial(frames, decode);
        if (buffer.partial === null) break;
        check();
        if (until.deadline <= performance.now()) {
          this.#parkUnlessTorn();
          break;
        }
        const ready = await fdReady(
          buffer.fd,
          POLLIN,
          within(until, SLICE_MS),
        );
        if (!ready) this.#recovery.discardIfTorn();
      }
    } catch (e) {
      if (buffer.partial !== null) this.#parkUnlessTorn();
      throw e;
    }
  }

  /**
   * The caller stops waiting for the rest of the begun frame: it is torn if
   * its writer is dead (and the pipe empty), else parked for the next reader.
   */
  #parkUnlessTorn(): void {
    if (!this.#recovery.discardIfTorn()) this.#buffer.park();
  }

  /** The pipe ended inside the begun frame. */
  #eofInFrame(): never {
    const buffer = this.#buffer;
    const p = buffer.partial!;
    buffer.end();
    buffer.empty(this.#f64[CONSUMED]);
    throw new Deno.errors.UnexpectedEof(
      `Cannot read frame: the pipe ended in the middle of a frame, after ${p.have} of ${p.length} payload bytes`,
    );
  }
}

/** Decodes one payload; what `decode` throws becomes a `DecodeFailure`. */
function decodeOne(
  decode: FrameDecoder,
  payload: Uint8Array,
  owned = true,
): unknown {
  try {
    return decode(payload, owned);
  } catch (e) {
    return new DecodeFailure(e);
  }
}
