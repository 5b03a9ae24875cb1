// The pipe shared by every process of one queue, with its cross-process read
// and write locks and the queue's shared memory: reads whole frames under the
// read lock (through a read buffer in shared memory), writes whole frames
// under the write lock, and puts the stream back at a frame boundary when a
// reader or writer dies mid-frame. Knows nothing of items or serializers.

import {
  bytesAvailable,
  MAX_IO,
  POLLIN,
  pollNow,
  POLLOUT,
  pollWait,
  readSome,
  WOULD_BLOCK,
  writeSome,
} from "../ffi/fd.ts";
import type { SharedMemory } from "../ffi/shm.ts";
import { ProcessLock } from "./_lock.ts";
import { SharedCounter } from "./_counter.ts";
import { isAlive, pid, yieldCpu } from "../ffi/process.ts";
import {
  checkLength,
  DEFAULT_MAX_FRAME,
  headerSize,
  readLong,
  readShort,
  writeHeader,
} from "./_framing.ts";
import { SLICE_MS, sliceUntil } from "./_util.ts";

/** Payloads at least this large are written from their own buffer, uncopied. */
const DIRECT_WRITE = 32 * 1024;
/** Size of the coalescing buffer for small frames. */
const COALESCE = 64 * 1024;
/** Writes up to this size are atomic on a pipe: all or nothing. */
const PIPE_BUF = 4096;
/** How long a reader looks for data on its own thread before sleeping. */
const SPIN_MS = 0.1;
/** Scratch space to read (and drop) the rest of a dead reader's frame. */
const SCRATCH = 64 * 1024;

const noCheck = (): void => {};
const never = (): boolean => false;

/**
 * Turns a frame's payload into what a read returns, while the read lock is
 * held. `owned` is false for a view of the shared read buffer (about to be
 * reused: the result must not keep it), true for a buffer of its own.
 */
export type FrameDecoder = (payload: Uint8Array, owned: boolean) => unknown;

/** Returns a payload as a buffer of its own (a copy of a shared view). */
const asBytes: FrameDecoder = (payload, owned) =>
  owned ? payload : payload.slice();

/** What `Channel.readFrameNow` returns when it has no frame. */
export const NOTHING: unique symbol = Symbol("nothing");

/** What a decoder threw for one frame (the frame itself is consumed). */
export class DecodeFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** A frame whose payload is being read into its own buffer. */
class PartialFrame {
  /** The payload; null for the rest of a dead reader's frame (dropped). */
  payload: Uint8Array | null;
  length: number;
  have: number;

  constructor(payload: Uint8Array | null, length: number, have: number) {
    this.payload = payload;
    this.length = length;
    this.have = have;
  }
}

// Layout of the shared memory (Int32 slots unless noted): a page of state,
// then the ring of frame marks, then the shared read buffer.
const PAGE_BYTES = 1024;
const RLOCK_HOLDER = 0;
const WLOCK_HOLDER = 1;
const RLOCK_WAITERS = 5;
const WLOCK_WAITERS = 6;
const TORN = 2; // frames discarded because their writer died mid-frame
const LOST = 3; // frames discarded because their reader died mid-frame
const READING = 4; // 1 while the read-lock holder is inside a frame
// The read buffer (CARRY bytes at CARRY_AT), shared by every reader: a read
// takes what the pipe has (up to the buffer's free room) and the frames in it
// are taken from there by whichever process holds the read lock next, so
// nothing read ahead is stranded in one process. Stream offsets: the buffer
// holds [CARRY_START, CARRY_END) (CARRY_START is always a frame start) at
// byte CARRY_START - CARRY_BASE of the buffer. Each is one store, so a reader
// killed between two of them leaves a consistent buffer; CARRY_READING is 1
// while a read into the buffer is in flight (its bytes land at CARRY_END).
const CARRY_START = 16; // Float64 slot
const CARRY_BASE = 17; // Float64 slot
const CARRY_END = 18; // Float64 slot (-1 while bytes move within the buffer)
const CARRY_READING = 9;
const SPINNER = 10; // pid of the one reader spinning for data (0: none)
// Byte accounting, so that a reader taking over from a dead one finds the
// next frame boundary: WRITTEN (by the write-lock holder) and CONSUMED (by
// the read-lock holder) count every byte that went into / came out of the
// pipe. The stream offset of the pipe's next byte is WRITTEN minus the bytes
// waiting in the pipe, read while no write call is in flight.
const RESYNC = 7; // pid of a dead reader whose mess is not cleaned up yet
const WRITE_SEQ = 8; // odd while a write call is in flight
const WRITTEN = 12; // Float64 slot
const CONSUMED = 13; // Float64 slot
// Set by a reader as it releases the read lock: frames ending at or before it
// went to a caller.
const DELIVERED = 19; // Float64 slot
// Kept by the write-lock holder: where the frame being written will end, and
// how many frame ends it has put in the ring (each frame's end offset, modulo
// 2^32, at MARKS; the last one is where the last whole frame in the pipe
// ends).
const NEXT_END = 11; // Float64 slot
const MARK_SEQ = 15; // Float64 slot
// The ring holds the end of every frame a full pipe can hold (1 MiB of 4-byte
// frames), so that the first frame start at or after any offset in the pipe
// is known exactly.
const MARKS = PAGE_BYTES; // byte offset of the Uint32 ring
const RING = 1 << 18;
const RING_MASK = RING - 1;
const CARRY = 64 * 1024;
const CARRY_AT = MARKS + RING * 4;
/** Frames larger than this are read into their own buffer, not the carry. */
const BIG = 16 * 1024;

/** Bytes of shared memory a channel needs. */
export const SHARED_BYTES = CARRY_AT + CARRY;

// The queue's counters (see `Channel.counter`): (value, sleepers) pairs.
const COUNTERS = 40; // first Int32 slot
/** How many counters a channel's shared memory holds. */
export const COUNTER_COUNT = 4;
// Producers: (pid, items put and not yet wholly written) pairs, so that the
// slots of items a dead process had buffered can be given back.
const PRODUCERS = 64; // first Int32 slot
const PRODUCER_ENTRIES = 64;

/**
 * What the crash recovery has discarded, across all processes of a queue
 * (see `Queue.stats()` and `SimpleQueue.stats()`).
 *
 * @example Usage
 * ```ts
 * import { Queue, type QueueStats } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using q = new Queue<number>();
 * const { tornFrames, lostFrames }: QueueStats = q.stats();
 * strictEqual(tornFrames + lostFrames, 0); // no process died mid-frame
 * ```
 */
export interface QueueStats {
  /** Frames cut short by a writer that died while writing them. */
  tornFrames: number;
  /** Frames whose reader died while reading them. */
  lostFrames: number;
}

/** The shared pipe of a queue and its two locks. */
export class Channel {
  readonly readFd: number;
  readonly writeFd: number;
  readonly rlock: ProcessLock;
  readonly wlock: ProcessLock;
  readonly shared: SharedMemory;
  /** The largest payload one frame may claim. */
  maxFrame: number = DEFAULT_MAX_FRAME;
  /** Called with the number of frames crash recovery dropped. */
  onDropped: (count: number) => void = () => {};
  /** Called with the number of frames taken, before the read lock is freed. */
  onTaken: (count: number) => void = () => {};
  /** Whether this process has frames waiting to be written (its feeder). */
  writesPending: () => boolean = () => false;
  #scratch = new Uint8Array(SCRATCH);
  #out = new Uint8Array(COALESCE);
  #page: Int32Array;
  #pageF64: Float64Array;
  #ring: Uint32Array;
  #carry: Uint8Array;

  constructor(readFd: number, writeFd: number, shared: SharedMemory) {
    this.readFd = readFd;
    this.writeFd = writeFd;
    this.shared = shared;
    this.#page = new Int32Array(shared.buffer, 0, PAGE_BYTES / 4);
    this.#pageF64 = new Float64Array(shared.buffer, 0, PAGE_BYTES / 8);
    this.#ring = new Uint32Array(shared.buffer, MARKS, RING);
    this.#carry = new Uint8Array(shared.buffer, CARRY_AT, CARRY);
    this.rlock = new ProcessLock(
      this.#page,
      RLOCK_HOLDER,
      RLOCK_WAITERS,
      shared.address(RLOCK_HOLDER * 4),
    );
    this.wlock = new ProcessLock(
      this.#page,
      WLOCK_HOLDER,
      WLOCK_WAITERS,
      shared.address(WLOCK_HOLDER * 4),
    );
  }

  /** Counter `i` (below {@linkcode COUNTER_COUNT}) in the shared memory. */
  counter(i: number): SharedCounter {
    if (!(i >= 0 && i < COUNTER_COUNT)) {
      throw new RangeError(
        `Cannot use counter ${i}: a queue has ${COUNTER_COUNT}`,
      );
    }
    const slot = COUNTERS + 2 * i;
    return new SharedCounter(this.#page, slot, this.shared.address(slot * 4));
  }

  #entry = -1;

  /**
   * Counts `count` items this process buffered to write (a `Queue`'s puts),
   * so that if it dies before writing them their slots can be given back.
   */
  noteBuffered(count: number): void {
    if (this.#entry === -1) this.#entry = this.#claimEntry();
    if (this.#entry >= 0) Atomics.add(this.#page, this.#entry + 1, count);
  }

  #claimEntry(): number {
    const page = this.#page;
    for (let i = 0; i < PRODUCER_ENTRIES; i++) {
      const at = PRODUCERS + 2 * i;
      if (Atomics.compareExchange(page, at, 0, pid) === 0) {
        Atomics.store(page, at + 1, 0);
        return at;
      }
    }
    return -2; // table full: this process's items are not tracked
  }

  /**
   * Releases the counts of producers that died with items not yet written.
   *
   * @returns how many items they took with them
   */
  sweepDeadProducers(): number {
    const page = this.#page;
    let lost = 0;
    for (let i = 0; i < PRODUCER_ENTRIES; i++) {
      const at = PRODUCERS + 2 * i;
      const owner = Atomics.load(page, at);
      if (owner <= 0 || owner === pid || isAlive(owner)) continue;
      if (Atomics.compareExchange(page, at, owner, -1) !== owner) continue;
      lost += Atomics.exchange(page, at + 1, 0);
      Atomics.store(page, at, 0);
    }
    return lost;
  }

  /** Bytes written to the pipe so far, by every process (it only grows). */
  bytesWritten(): number {
    return this.#pageF64[WRITTEN];
  }

  /** Counts of frames discarded by crash recovery (all processes). */
  stats(): QueueStats {
    return {
      tornFrames: Atomics.load(this.#page, TORN),
      lostFrames: Atomics.load(this.#page, LOST),
    };
  }

  /** Whether at least one byte (or end of file) is waiting in the pipe. */
  readable(): boolean {
    return pollNow(this.readFd, POLLIN) !== 0 || this.#carriesFrame() ||
      this.#stash.length > 0;
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads up to `maxItems` whole frames already in the pipe, waiting (without
   * holding the read lock) until at least one has begun to arrive or
   * `deadline` passes. `check` runs before every attempt and may throw.
   * Each payload goes through `decode` before the read lock is released (a
   * payload it cannot decode gives a {@linkcode DecodeFailure} in its place).
   *
   * @returns the decoded payloads, or null when the deadline passed
   */
  async readFrames(
    maxItems: number,
    maxBytes: number,
    deadline: number,
    signal: AbortSignal | undefined,
    check: () => void,
    decode: FrameDecoder = asBytes,
  ): Promise<unknown[] | null> {
    let yielded = false;
    for (;;) {
      check();
      signal?.throwIfAborted();
      if (this.#stash.length > 0) {
        return this.#stash.splice(0, maxItems).map((f) => decodeOne(decode, f));
      }
      let locked = this.rlock.tryAcquire() || this.#recoverReader();
      if (!locked) {
        const ms = sliceUntil(deadline);
        if (!this.readable()) {
          if (ms <= 0) return null;
          yielded = await this.#awaitData(ms, yielded);
          continue;
        }
        if (ms <= 0) return null;
        locked = await this.rlock.wait(ms) || this.#recoverReader();
        if (!locked) continue;
        try {
          check();
          signal?.throwIfAborted();
        } catch (e) {
          this.#releaseRead();
          throw e;
        }
      }
      if (this.#page[RESYNC] !== 0) {
        try {
          await this.#resync();
        } catch (e) {
          this.#releaseRead();
          throw e;
        }
      }
      let frames: unknown[] | null;
      try {
        frames = this.#partial === null
          ? this.#takeSync(maxItems, maxBytes, decode)
          : [];
        if (frames !== null && this.#partial !== null) {
          await this.#finishAsync(frames, decode);
        }
        if (frames === null) this.#discardTornCarry();
        else if (frames.length > 0) this.onTaken(frames.length);
      } finally {
        this.#releaseRead();
      }
      if (frames !== null && frames.length > 0) return frames;
      const ms = sliceUntil(deadline);
      if (ms <= 0) return null;
      yielded = await this.#awaitData(ms, yielded);
    }
  }

  /**
   * Waits for data, at most `ms`. If this process's own feeder has frames to
   * write, lets it run first (a few microtasks, once per read: `yielded`)
   * and returns at once, to look again; otherwise spins briefly, then sleeps
   * on a helper thread.
   *
   * @returns `yielded`, or true if this call only yielded
   */
  async #awaitData(ms: number, yielded: boolean): Promise<boolean> {
    if (this.writesPending()) {
      if (!yielded) {
        for (let k = 0; k < 8; k++) await null;
        return true;
      }
    } else if (this.#spin()) return yielded;
    await pollWait(this.readFd, POLLIN, ms);
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
        if (pollNow(this.readFd, POLLIN) !== 0) return true;
      } while (performance.now() < until);
      return false;
    } finally {
      Atomics.store(page, SPINNER, 0);
    }
  }

  /**
   * Reads one frame without waiting for data: {@linkcode NOTHING} if the
   * pipe is empty or another reader holds the lock. A frame that has begun to arrive is
   * finished, waiting synchronously for its rest.
   */
  readFrameNow(decode: FrameDecoder = asBytes): unknown {
    if (this.#stash.length > 0) return decodeOne(decode, this.#stash.shift()!);
    if (!this.rlock.tryAcquire() && !this.#recoverReader()) return NOTHING;
    try {
      if (this.#page[RESYNC] !== 0 && !this.#resyncNow()) return NOTHING;
      const frames = this.#partial === null
        ? this.#takeSync(1, Infinity, decode)
        : [];
      if (frames === null) {
        this.#discardTornCarry();
        return NOTHING;
      }
      while (this.#partial !== null) {
        this.#continuePartial(frames, decode);
        if (this.#partial === null) break;
        // A frame has begun and its writer is writing the rest right now. If
        // that writer is this process, write for it; else wait on this
        // thread, at most 10 ms per round.
        this.#writePending();
        if (pollNow(this.readFd, POLLIN, 10) === 0) this.#discardIfTorn();
      }
      if (frames.length === 0) return NOTHING;
      this.onTaken(1);
      return frames[0];
    } finally {
      this.#releaseRead();
    }
  }

  #releaseRead(): void {
    // Every frame that ended before the buffer's first goes to this
    // process's caller.
    this.#pageF64[DELIVERED] = this.#pageF64[CARRY_START];
    this.rlock.release();
  }

  /**
   * Takes the read lock over if its holder died. The stream position it left
   * is unknown until `#resync` finds it.
   */
  #recoverReader(): boolean {
    const dead = this.rlock.takeOverIfDead();
    if (dead === 0) return false;
    Atomics.store(this.#page, RESYNC, dead);
    return true;
  }

  /**
   * Holding the read lock after a reader died: puts the stream back at a
   * frame boundary (see `#resyncNow`), waiting for a writer if it must.
   */
  async #resync(): Promise<void> {
    while (!this.#resyncNow()) await pollWait(this.readFd, POLLIN, 5);
  }

  /** Takes over a dead writer's lock: its half-written frame is torn. */
  #takeOverDeadWriter(): boolean {
    return this.wlock.takeOverIfDead() !== 0;
  }

  #marks = { head: 0, seq: 0, nextEnd: 0 };

  /**
   * Reads, while no write call is in flight, the stream offset of the next
   * byte in the pipe (bytes written minus bytes waiting) and the writer's
   * marks. False if a writer died inside a write call.
   */
  #snapshot(): boolean {
    const page = this.#page;
    const f64 = this.#pageF64;
    for (let spins = 0;; spins++) {
      const before = Atomics.load(page, WRITE_SEQ);
      if ((before & 1) === 0) {
        const written = f64[WRITTEN];
        const seq = f64[MARK_SEQ];
        const nextEnd = f64[NEXT_END];
        const avail = bytesAvailable(this.readFd);
        if (Atomics.load(page, WRITE_SEQ) === before) {
          this.#marks.head = written - avail;
          this.#marks.seq = seq;
          this.#marks.nextEnd = nextEnd;
          return true;
        }
      } else if (spins > 100 && this.wlock.holderDead()) {
        return false;
      }
      yieldCpu();
    }
  }

  /** The stream offset of mark `i` (`near` is within 2^31 bytes of it). */
  #mark(i: number, near: number): number {
    return near + ((this.#ring[i & RING_MASK] - (near >>> 0)) | 0);
  }

  /** Appends a frame end to the ring (write-lock holder only). */
  #pushMark(end: number): void {
    const seq = this.#pageF64[MARK_SEQ];
    this.#ring[seq & RING_MASK] = end >>> 0;
    this.#pageF64[MARK_SEQ] = seq + 1;
  }

  /**
   * Puts the stream back at a frame boundary after a reader died holding the
   * read lock. The shared read buffer is kept if it is still valid (its
   * first frame is where reading resumes); otherwise the first frame start
   * at or after the pipe's next byte comes from the writers' marks, and the
   * bytes before it (the rest of the frame the dead reader was taking) are
   * read and dropped. Frames the dead reader had taken are counted lost.
   *
   * @returns false if it must wait for a writer (to mark its frame)
   */
  #resyncNow(): boolean {
    const page = this.#page;
    const f64 = this.#pageF64;
    // A writer died inside a write call: nothing in the pipe can be trusted.
    if (!this.#snapshot()) return this.#drainAfterDeadWriter();
    const { head, seq, nextEnd } = this.#marks;
    const low = Math.max(0, seq - RING);
    let end = f64[CARRY_END];
    if (page[CARRY_READING] === 1 && end >= 0 && head > end) {
      // Its last read landed in the buffer, right after CARRY_END.
      f64[CARRY_END] = end = head;
    }
    page[CARRY_READING] = 0;
    let start: number;
    let lost = 0;
    if (end === head) {
      // The buffer is valid: the stream resumes with its first frame.
      start = f64[CARRY_START];
    } else {
      this.#pageF64[CARRY_END] = -1;
      // The smallest frame start >= head (the stream starts at 0, and a
      // frame starts where one ends; marks grow with their index).
      start = head === 0 ? 0 : -1;
      let i = seq - 1;
      for (; i >= low && head > 0; i--) {
        const m = this.#mark(i, head);
        if (m < head) break;
        start = m;
      }
      if (start === -1) {
        if (nextEnd <= head) {
          // Its writer has not marked the frame yet, or never will.
          return this.wlock.holderDead() && this.#drainAfterDeadWriter();
        }
        start = nextEnd; // inside the frame being written
        lost = 1;
      } else if (i < low && seq > RING && start > head) {
        return this.#resyncBySearch(head, seq); // the ring no longer reaches head
      }
    }
    page[READING] = 0;
    // The frames that ended after what the dead reader's callers got, up to
    // the start: it took them and died.
    const from = f64[DELIVERED];
    for (let j = seq - 1; j >= low; j--) {
      const m = this.#mark(j, head);
      if (m <= from) break;
      if (m <= start) lost++;
    }
    f64[CONSUMED] = head;
    f64[DELIVERED] = start;
    if (start === head) this.#emptyCarry(head);
    if (start > head) {
      // Read the rest of its frame and drop it.
      this.#partial = new PartialFrame(null, start - head, 0);
      this.#saveProgress();
    }
    this.#finishResync(lost, start - head);
    return true;
  }

  /**
   * The position cannot be known because a writer died in the middle of
   * its work: takes its lock over, drops everything in the pipe (one torn
   * frame, plus any whole frames behind it) and starts afresh.
   */
  #drainAfterDeadWriter(): boolean {
    if (!this.#takeOverDeadWriter()) return false;
    const page = this.#page;
    const f64 = this.#pageF64;
    page[READING] = 0;
    page[CARRY_READING] = 0;
    const got = this.#readUpTo(bytesAvailable(this.readFd)).length;
    f64[CONSUMED] += got;
    this.#emptyCarry(f64[CONSUMED]);
    f64[DELIVERED] = f64[CONSUMED];
    this.#restartCounts();
    Atomics.add(page, TORN, 1);
    this.wlock.release();
    this.#finishResync(1, got);
    return true;
  }

  /** Holding both locks with the pipe empty: restarts the byte counts. */
  #restartCounts(): void {
    const page = this.#page;
    const f64 = this.#pageF64;
    if ((Atomics.load(page, WRITE_SEQ) & 1) === 1) {
      Atomics.add(page, WRITE_SEQ, 1); // a writer died inside a write call
    }
    f64[WRITTEN] = f64[NEXT_END] = f64[CONSUMED];
    this.#pushMark(f64[CONSUMED]);
  }

  #finishResync(lost: number, skipped: number): void {
    const page = this.#page;
    const dead = page[RESYNC];
    if (lost > 0) {
      Atomics.add(page, LOST, lost);
      this.onDropped(lost);
      console.warn(
        `@mp/queues: a reader (pid ${dead}) died while reading; ${
          lost === 1 ? "the frame" : `the ${lost} frames`
        } it was taking ${
          lost === 1 ? "is" : "are"
        } dropped (${skipped} bytes of it skipped)`,
      );
    }
    Atomics.store(page, RESYNC, 0);
  }

  /**
   * The ring no longer holds the marks near `head` (more frames passed than
   * it holds): the bytes up to the last whole frame's end are read and the
   * first offset from which whole frames run exactly to that end is where the
   * stream resumes (the frames from there are delivered from this process).
   */
  #resyncBySearch(head: number, seq: number): boolean {
    const f64 = this.#pageF64;
    const all = this.#readUpTo(this.#mark(seq - 1, head) - head);
    const got = all.length;
    f64[CONSUMED] = f64[DELIVERED] = head + got;
    this.#emptyCarry(head + got);
    let start = got;
    for (let p = 0; p < got; p++) {
      if (this.#framesRunTo(all, p, got)) {
        start = p;
        break;
      }
    }
    for (let pos = start; pos < got;) {
      let length = readShort(all, pos);
      let h = 4;
      if (length === -1) {
        length = readLong(all, pos + 4);
        h = 12;
      }
      this.#stash.push(all.slice(pos + h, pos + h + length));
      pos += h + length;
    }
    this.#finishResync(1, start);
    return true;
  }

  /** Reads up to `n` bytes that are in the pipe into a new buffer. */
  #readUpTo(n: number): Uint8Array {
    const all = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = readSome(this.readFd, all, got, n - got);
      if (r <= 0) break;
      got += r;
    }
    return got === n ? all : all.subarray(0, got);
  }

  /** Frames recovered by `#resyncBySearch`, delivered before the pipe's. */
  #stash: Uint8Array[] = [];

  /** Whether whole frames parse from `from` to exactly `to`. */
  #framesRunTo(b: Uint8Array, from: number, to: number): boolean {
    let pos = from;
    while (pos < to) {
      if (to - pos < 4) return false;
      let length = readShort(b, pos);
      let h = 4;
      if (length === -1) {
        if (to - pos < 12) return false;
        length = readLong(b, pos + 4);
        h = 12;
      }
      if (length < 0 || length > this.maxFrame) return false;
      pos += h + length;
    }
    return pos === to;
  }

  /** Marks the read-lock holder as inside a frame. */
  #saveProgress(): void {
    Atomics.store(this.#page, READING, 1);
  }

  /**
   * Mid-frame with an empty pipe: if the write lock's holder is dead, the
   * frame is torn (nobody will write its rest). Discards it, counts it, warns
   * once, and frees the write lock.
   */
  #discardIfTorn(): boolean {
    if (this.readable()) return false;
    const dead = this.wlock.takeOverIfDead();
    if (dead === 0) return false;
    const p = this.#partial!;
    this.#partial = null;
    Atomics.store(this.#page, READING, 0);
    this.#restartCounts(); // the pipe is empty
    this.#tornFrame(dead, `${p.have} of ${p.length} payload bytes`);
    this.wlock.release();
    return true;
  }

  /**
   * Holding both locks, with the pipe empty and the counts restarted: the
   * frame a dead writer began (its bytes in the read buffer or in a partial
   * frame, `what`) is discarded, counted and warned about once.
   */
  #tornFrame(dead: number, what: string): void {
    this.#emptyCarry(this.#pageF64[CONSUMED]);
    Atomics.add(this.#page, TORN, 1);
    console.warn(
      `@mp/queues: discarded a torn frame: its writer (pid ${dead}) died after writing ${what}`,
    );
  }

  #partial: PartialFrame | null = null;

  /**
   * Holding the read lock: takes the frames in the shared read buffer and
   * what the pipe has, up to the limits, without waiting. A frame larger
   * than the buffer's share is left begun in `#partial`.
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
    const f64 = this.#pageF64;
    if (f64[CARRY_END] < 0) this.#emptyCarry(f64[CONSUMED]); // not expected
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
        if (length < 0 || length > this.maxFrame) {
          // The frames before it go out first; the next take throws.
          if (frames.length > 0) {
            bad = true;
            break;
          }
          if (length === -1) {
            throw new RangeError("Cannot read frame: 8-byte length above 2^53");
          }
          checkLength(length, this.maxFrame);
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
        this.#emptyCarry(end);
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
      const r = readSome(this.readFd, buf, at, CARRY - at);
      if (r === WOULD_BLOCK) {
        page[CARRY_READING] = 0;
        break;
      }
      f64[CARRY_END] = end = end + r;
      page[CARRY_READING] = 0;
      f64[CONSUMED] += r;
      if (r === 0) eof = true;
    }
    return frames.length === 0 && this.#partial === null ? null : frames;
  }

  /**
   * Starts reading a big frame into its own buffer: `have` holds its header
   * (`hsize` bytes) and the first bytes of its payload, taken from the read
   * buffer.
   */
  #beginPartial(
    have: Uint8Array,
    hsize: number,
    length: number,
  ): void {
    const payload = new Uint8Array(length);
    payload.set(have.subarray(hsize));
    // Invalid until the frame is read: a reader taking over from this one
    // finds the frame's end among the writers' marks.
    this.#pageF64[CARRY_END] = -1;
    this.#partial = new PartialFrame(payload, length, have.length - hsize);
    this.#saveProgress();
  }

  /**
   * Empties the read buffer at stream offset `at`, a frame start. The buffer
   * is invalid (CARRY_END -1) until the last store.
   */
  #emptyCarry(at: number): void {
    const f64 = this.#pageF64;
    f64[CARRY_END] = -1;
    f64[CARRY_START] = at;
    f64[CARRY_BASE] = at;
    f64[CARRY_END] = at;
  }

  /**
   * Holding the read lock with nothing to read: if the read buffer holds the
   * start of a frame and the write lock's holder is dead, that frame is torn.
   */
  #discardTornCarry(): void {
    const f64 = this.#pageF64;
    const carried = f64[CARRY_END] - f64[CARRY_START];
    if (carried <= 0 || this.readable()) return;
    const dead = this.wlock.takeOverIfDead();
    if (dead === 0) return;
    this.#restartCounts(); // the pipe is empty
    this.#tornFrame(dead, `${carried} bytes of it`);
    this.wlock.release();
  }

  /** Whether the read buffer holds a whole frame. */
  #carriesFrame(): boolean {
    const f64 = this.#pageF64;
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
   * Reads more of the begun frame without waiting; on completion appends it
   * to `frames` and clears `#partial`.
   */
  #continuePartial(frames: unknown[], decode: FrameDecoder): void {
    const p = this.#partial!;
    const payload = p.payload;
    while (p.have < p.length) {
      const n = payload === null // dropped: read into the scratch buffer
        ? readSome(
          this.readFd,
          this.#scratch,
          0,
          Math.min(this.#scratch.length, p.length - p.have),
        )
        : readSome(this.readFd, payload, p.have, p.length - p.have);
      if (n === WOULD_BLOCK) return this.#saveProgress();
      if (n === 0) this.#eofInFrame(p);
      this.#pageF64[CONSUMED] += n;
      p.have += n;
    }
    this.#partial = null;
    this.#emptyCarry(this.#pageF64[CONSUMED]); // the next frame starts here
    Atomics.store(this.#page, READING, 0);
    if (payload !== null) frames.push(decodeOne(decode, payload));
  }

  async #finishAsync(frames: unknown[], decode: FrameDecoder): Promise<void> {
    while (this.#partial !== null) {
      this.#continuePartial(frames, decode);
      if (this.#partial !== null) {
        const ready = await pollWait(this.readFd, POLLIN, SLICE_MS);
        if (ready === 0) this.#discardIfTorn();
      }
    }
  }

  #eofInFrame(p: PartialFrame): never {
    this.#partial = null;
    this.#emptyCarry(this.#pageF64[CONSUMED]);
    Atomics.store(this.#page, READING, 0);
    throw new Deno.errors.UnexpectedEof(
      `Cannot read frame: the pipe ended in the middle of a frame, after ${p.have} of ${p.length} payload bytes`,
    );
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes whole frames for `payloads` under the write lock, coalescing small
   * ones into few `write` calls. Waits for the lock and for room in the pipe
   * in slices; `check` runs between slices and may throw (only while the
   * lock is not yet held: a frame once begun is always finished).
   */
  async writeFrames(
    payloads: readonly Uint8Array[],
    check: () => void = noCheck,
    abandon: () => boolean = never,
  ): Promise<void> {
    while (!this.wlock.tryAcquire()) {
      check();
      if (await this.wlock.wait(SLICE_MS) || this.#recoverWriter()) break;
    }
    // `torn` is true while a frame is partly in the pipe. If the caller
    // abandons the write then (its process is about to exit), the lock stays
    // held: readers treat the frame as torn once this process is gone.
    let torn = false;
    try {
      const out = this.#out;
      const ends = this.#outEnds;
      ends.length = 0;
      let fill = 0;
      for (const payload of payloads) {
        const length = payload.length;
        if (length >= DIRECT_WRITE || fill + 12 + length > out.length) {
          if (fill > 0) this.#begin(ends);
          if (fill > 0 && !this.#writeNow(out, fill)) {
            torn = this.#pendingOff > 0;
            if (!await this.#drain(abandon)) return;
            torn = false;
          }
          fill = 0;
          ends.length = 0;
        }
        if (length >= DIRECT_WRITE) {
          const h = writeHeader(out, 0, length);
          this.#begin(Channel.#NO_ENDS, h + length);
          if (!this.#writeNow(out, h)) {
            torn = this.#pendingOff > 0;
            if (!await this.#drain(abandon)) return;
          }
          torn = true;
          ends.length = 0;
          ends.push(length);
          this.#begin(ends);
          if (!this.#writeNow(payload, length) && !await this.#drain(abandon)) {
            return;
          }
          torn = false;
          ends.length = 0;
        } else {
          fill += writeHeader(out, fill, length);
          out.set(payload, fill);
          fill += length;
          ends.push(fill);
        }
      }
      if (fill > 0) this.#begin(ends);
      if (fill > 0 && !this.#writeNow(out, fill)) {
        torn = this.#pendingOff > 0;
        if (!await this.#drain(abandon)) return;
        torn = false;
      }
    } finally {
      // Released in the same synchronous stretch as the last write when the
      // pipe took everything at once.
      if (!torn) this.wlock.release();
    }
  }

  /**
   * Takes the write lock over from a dead holder, but only when no frame of
   * it can be half in the pipe: holding the read lock, with the pipe empty
   * and no reader inside a frame. Otherwise readers resolve it (a torn frame).
   */
  #recoverWriter(): boolean {
    if (!this.wlock.holderDead() || !this.rlock.tryAcquire()) return false;
    try {
      if (
        this.readable() || Atomics.load(this.#page, READING) === 1 ||
        Atomics.load(this.#page, RESYNC) !== 0
      ) {
        return false;
      }
      const dead = this.wlock.takeOverIfDead();
      if (dead === 0) return false;
      this.#restartCounts(); // the pipe is empty
      const f64 = this.#pageF64;
      const carried = f64[CARRY_END] - f64[CARRY_START];
      // The read buffer holds the start of the dead writer's last frame.
      if (carried > 0) this.#tornFrame(dead, `${carried} bytes of it`);
      return true;
    } finally {
      this.rlock.release();
    }
  }

  /**
   * One `write` call, counted in shared memory (`WRITE_SEQ` is odd while it
   * is in flight, so that `#snapshot()` reads a consistent count).
   */
  #write(buf: Uint8Array, off: number, length: number): number {
    const page = this.#page;
    Atomics.add(page, WRITE_SEQ, 1);
    let n = 0;
    try {
      n = writeSome(this.writeFd, buf, off, Math.min(length, MAX_IO));
    } finally {
      const f64 = this.#pageF64;
      f64[WRITTEN] += n;
      const done = f64[WRITTEN] - this.#wBase;
      const ends = this.#wEnds;
      let i = this.#wEi;
      if (i < ends.length && ends[i] <= done) {
        const ring = this.#ring;
        let seq = f64[MARK_SEQ];
        while (i < ends.length && ends[i] <= done) {
          ring[seq++ & RING_MASK] = (this.#wBase + ends[i++]) >>> 0;
        }
        f64[MARK_SEQ] = seq;
      }
      if (this.#entry >= 0 && i > this.#wEi) {
        Atomics.sub(page, this.#entry + 1, i - this.#wEi);
      }
      this.#wEi = i;
      if (i < ends.length) f64[NEXT_END] = this.#wBase + ends[i];
      Atomics.add(page, WRITE_SEQ, 1);
    }
    return n;
  }

  #wEnds: number[] = [];
  #wEi = 0;
  #wBase = 0;
  #outEnds: number[] = [];
  static readonly #NO_ENDS: number[] = [];

  /**
   * Starts writing a buffer whose frames end at `ends` (offsets in it); with
   * none, `frameEnd` is where the frame it begins will end.
   */
  #begin(ends: number[], frameEnd = 0): void {
    const f64 = this.#pageF64;
    this.#wEnds = ends;
    this.#wEi = 0;
    this.#wBase = f64[WRITTEN];
    f64[NEXT_END] = ends.length > 0
      ? this.#wBase + ends[0]
      : this.#wBase + frameEnd;
  }

  #pending: Uint8Array | null = null;
  #pendingOff = 0;
  #pendingLen = 0;

  /**
   * Writes what the pipe takes now; returns true if all of it went, else
   * remembers the rest for {@linkcode Channel.#drain}.
   */
  #writeNow(buf: Uint8Array, length: number): boolean {
    let off = 0;
    while (off < length) {
      const n = this.#write(buf, off, length - off);
      if (n === 0) {
        this.#pending = buf;
        this.#pendingOff = off;
        this.#pendingLen = length;
        return false;
      }
      off += n;
    }
    return true;
  }

  /**
   * Waits for room and writes the rest remembered by `#writeNow`.
   *
   * @returns false if `abandon()` said to stop first
   */
  async #drain(abandon: () => boolean): Promise<boolean> {
    try {
      while (this.#pendingOff < this.#pendingLen) {
        if (abandon()) return false;
        await pollWait(this.writeFd, POLLOUT, SLICE_MS);
        this.#writePending();
      }
      return true;
    } finally {
      this.#pending = null;
    }
  }

  /**
   * Writes what the pipe takes now of the rest remembered by `#writeNow`
   * (also called by a synchronous read in this process, which would
   * otherwise wait forever for this process's own half-written frame).
   */
  #writePending(): void {
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
   * Writes one frame of at most {@linkcode PIPE_BUF} bytes now if the write
   * lock is free and the pipe has room (such a write is all or nothing).
   *
   * @returns whether it was written
   */
  writeSmallNow(payload: Uint8Array): boolean {
    const size = headerSize(payload.length) + payload.length;
    if (size > PIPE_BUF || !this.wlock.tryAcquire()) return false;
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
      this.wlock.release();
    }
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
