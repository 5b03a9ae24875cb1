// Reading frames from a pipe shared with CPython processes: under the
// queue's `_rlock`, exactly the bytes of whole frames (a CPython reader
// reads the next frame's header itself), from this process's own
// non-blocking descriptor of the pipe. Waits for data without the lock.

import { POLLIN, pollNow, readSome, WOULD_BLOCK } from "../../ffi/fd.ts";
import { yieldCpu } from "../../ffi/process.ts";
import {
  checkLength,
  DEFAULT_MAX_FRAME,
  readLong,
  readShort,
} from "../_framing.ts";
import type { Ledger } from "../_ledger.ts";
import {
  DecodeFailure,
  type FrameDecoder,
  NOTHING,
  type QueueStats,
  type ReadRequest,
} from "../_transport.ts";
import { fdReady } from "../wait/_fds.ts";
import type { SemLock } from "./_semlock.ts";

/** Returned by `#step` when a frame has begun and its rest is not there yet. */
const MORE: unique symbol = Symbol("more");
/** How long a synchronous read (`getNowait`) waits for the rest of a begun frame. */
const REST_MS = 200;
/**
 * How long a reader looks for data on its own thread before sleeping on a
 * helper thread (a hop of tens of microseconds each way).
 */
const SPIN_MS = 0.1;

/** Decodes one payload; a failure is returned in its place. */
function decodeOne(decode: FrameDecoder, payload: Uint8Array): unknown {
  try {
    return decode(payload, true);
  } catch (e) {
    return new DecodeFailure(e);
  }
}

/** Reads whole frames of a pipe shared with CPython, for this process. */
export class PipeReader {
  /** This process's own non-blocking descriptor of the pipe's read end. */
  readonly fd: number;
  readonly #lock: SemLock;
  readonly #ledger: Ledger;
  /** The header of the frame being read, and how much of it arrived. */
  readonly #head = new Uint8Array(12);
  #headGot = 0;
  /** The payload of the frame being read, once its header is complete. */
  #body: Uint8Array | null = null;
  #bodyGot = 0;
  /** This process holds the read lock (always while a frame is begun). */
  #holding = false;
  /**
   * The read call of this process reading under the lock now; null when
   * none is (a half-read frame left then is the next read's to finish).
   */
  #owner: object | null = null;
  /** An error met by a read after it had taken frames: the next read throws it. */
  #failure: unknown = undefined;
  /** Frames this process closed the queue in the middle of, never finished. */
  #torn = 0;
  /** Frames finished and dropped because this process closed the queue. */
  #lost = 0;
  /** The largest payload a header may declare. */
  maxFrame = DEFAULT_MAX_FRAME;

  constructor(fd: number, lock: SemLock, ledger: Ledger) {
    this.fd = fd;
    this.#lock = lock;
    this.#ledger = ledger;
  }

  /** Whether a frame (or its rest) can be read now. */
  readable(): boolean {
    return pollNow(this.fd, POLLIN) !== 0;
  }

  /** Frames this process dropped, or left torn, by closing mid-frame. */
  stats(): QueueStats {
    return { tornFrames: this.#torn, lostFrames: this.#lost };
  }

  /**
   * Waits (without the read lock) until frames arrive, then takes up to
   * `maxItems` of them under one hold of it, exactly their bytes. One call
   * of this process reads at a time; the others wait for the lock as any
   * reader does. A wait that ends while a frame is half read (a timeout, an
   * abort, a close) keeps the lock and the part read: this process's next
   * read finishes that frame first. Frames taken before such an end are
   * returned, never dropped.
   */
  async readFrames(request: ReadRequest): Promise<unknown[] | null> {
    const { maxItems, maxBytes, until, check, decode } = request;
    const lock = this.#lock;
    const me = {};
    for (;;) {
      check();
      until.signal?.throwIfAborted();
      this.#throwFailure();
      if (!this.#mayRead()) {
        if (until.deadline <= performance.now()) return null;
        if (!this.#holding && !this.readable()) {
          if (!this.#spin()) await fdReady(this.fd, POLLIN, until);
          continue;
        }
        if (!await lock.wait(until)) continue;
        this.#holding = true;
        try {
          check();
          until.signal?.throwIfAborted();
        } catch (e) {
          this.#done(0);
          throw e;
        }
      }
      this.#owner = me;
      const payloads: Uint8Array[] = [];
      let bytes = 0;
      try {
        while (payloads.length < maxItems && bytes < maxBytes) {
          const p = this.#step();
          if (p === null) break;
          if (p === MORE) {
            // Return what was taken; wait for a frame's rest only with none.
            if (payloads.length > 0) break;
            if (!await fdReady(this.fd, POLLIN, until)) break;
            check(); // a close() woke the wait
            continue;
          }
          payloads.push(p);
          bytes += p.length;
        }
      } catch (e) {
        if (payloads.length === 0) throw e;
        this.#failure = e; // the frames taken go out first
      } finally {
        this.#owner = null;
        this.#done(payloads.length);
      }
      if (payloads.length > 0) {
        return payloads.map((p) => decodeOne(decode, p));
      }
      if (until.deadline <= performance.now()) return null;
      if (!this.#holding && !this.#spin()) {
        await fdReady(this.fd, POLLIN, until);
      }
    }
  }

  /**
   * Whether this call may read now: this process holds the lock and no
   * other call of it is reading (a half-read frame left behind is this
   * call's to finish), or the lock was free and is now held.
   */
  #mayRead(): boolean {
    if (this.#holding) return this.#owner === null;
    if (!this.#lock.tryAcquire()) return false;
    this.#holding = true;
    return true;
  }

  /** Throws an error met by an earlier read after it had taken frames. */
  #throwFailure(): void {
    const failure = this.#failure;
    if (failure === undefined) return;
    this.#failure = undefined;
    throw failure;
  }

  /**
   * Takes one frame without waiting for data: {@linkcode NOTHING} if there
   * is none, another reader holds the lock, or another call of this process
   * is reading. The rest of a frame that has begun to arrive is waited for
   * synchronously (at most {@linkcode REST_MS}; after that it stays begun,
   * the lock held).
   */
  readFrameNow(decode: FrameDecoder): unknown {
    this.#throwFailure();
    if (this.#holding) {
      if (this.#owner !== null) return NOTHING;
    } else {
      if (!this.readable() || !this.#lock.tryAcquire()) return NOTHING;
      this.#holding = true;
    }
    let payload: Uint8Array | null = null;
    try {
      const end = performance.now() + REST_MS;
      for (;;) {
        const p = this.#step();
        if (p === null) break;
        if (p !== MORE) {
          payload = p;
          break;
        }
        const left = Math.ceil(end - performance.now());
        if (left <= 0) break;
        pollNow(this.fd, POLLIN, left);
      }
    } finally {
      this.#done(payload === null ? 0 : 1);
    }
    return payload === null ? NOTHING : decodeOne(decode, payload);
  }

  /**
   * This process closes the queue: a frame it has begun to read is waited
   * for (at most {@linkcode REST_MS}) and dropped (counted lost), so that
   * the stream stays whole for the other readers; if it does not come, the
   * lock stays held (counted torn: the stream cannot be resynchronized, as
   * CPython's readers would misread it).
   */
  close(): void {
    if (!this.#holding) return;
    const end = performance.now() + REST_MS;
    try {
      for (;;) {
        const p = this.#step();
        if (p === null || p !== MORE) break;
        const left = Math.ceil(end - performance.now());
        if (left <= 0) {
          this.#torn++;
          return;
        }
        pollNow(this.fd, POLLIN, left);
      }
    } catch {
      this.#torn++;
      return;
    }
    this.#lost++;
    this.#ledger.taken(1);
    this.#ledger.dropped(1);
    this.#holding = false;
    this.#lock.release();
  }

  /**
   * Waits up to {@linkcode SPIN_MS} on this thread for data, yielding the
   * CPU between looks (so a writer on the same CPU runs).
   *
   * @returns whether data arrived
   */
  #spin(): boolean {
    const end = performance.now() + SPIN_MS;
    do {
      yieldCpu();
      if (this.readable()) return true;
    } while (performance.now() < end);
    return false;
  }

  /**
   * After a hold: gives the lock back unless a frame is half read, and the
   * slots of the `n` frames taken.
   */
  #done(n: number): void {
    if (this.#holding && this.#headGot === 0) {
      this.#holding = false;
      this.#lock.release();
    }
    if (n > 0) this.#ledger.taken(n);
  }

  /**
   * Reads what is there of the current frame.
   *
   * @returns its payload when whole; null if no frame has begun and none is
   *   there; {@linkcode MORE} if it has begun and its rest is not there yet
   * @throws {RangeError} on a malformed header (the stream is then lost)
   */
  #step(): Uint8Array | null | typeof MORE {
    const head = this.#head;
    while (this.#body === null) {
      const want = (this.#headGot < 4 ? 4 : 12) - this.#headGot;
      const n = readSome(this.fd, head, this.#headGot, want);
      if (n === WOULD_BLOCK) return this.#headGot === 0 ? null : MORE;
      if (n === 0) throw this.#eof();
      this.#headGot += n;
      if (this.#headGot === 4) {
        const short = readShort(head, 0);
        if (short === -1) continue; // the 8-byte length follows
        this.#startBody(short);
      } else if (this.#headGot === 12) {
        this.#startBody(readLong(head, 4));
      }
    }
    const body = this.#body;
    while (this.#bodyGot < body.length) {
      const n = readSome(
        this.fd,
        body,
        this.#bodyGot,
        body.length - this.#bodyGot,
      );
      if (n === WOULD_BLOCK) return MORE;
      if (n === 0) throw this.#eof();
      this.#bodyGot += n;
    }
    this.#body = null;
    this.#headGot = this.#bodyGot = 0;
    return body;
  }

  /** The header is whole: allocates the payload of `length` bytes. */
  #startBody(length: number): void {
    try {
      checkLength(length, this.maxFrame);
    } catch (e) {
      this.#headGot = 0;
      throw e;
    }
    this.#body = new Uint8Array(length);
    this.#bodyGot = 0;
  }

  /** The error for an end of file (every write end closed). */
  #eof(): Error {
    this.#headGot = this.#bodyGot = 0;
    this.#body = null;
    return new Deno.errors.UnexpectedEof(
      "Cannot read a frame: the pipe has no writer left",
    );
  }
}
