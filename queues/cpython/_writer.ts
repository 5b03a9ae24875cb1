// Writing frames to a pipe shared with CPython processes: under the queue's
// `_wlock`, whole frames in `Connection.send_bytes` framing, small ones
// coalesced into one `write`, from this process's own non-blocking
// descriptor of the pipe (a CPython process's descriptor stays blocking).

import { MAX_IO, pollNow, POLLOUT, writeSome } from "../../ffi/fd.ts";
import { writeHeader } from "../_framing.ts";
import { fdReady } from "../wait/_fds.ts";
import { sleepUnref, type Until } from "../wait/_until.ts";
import type { SemLock } from "./_semlock.ts";

/** Payloads at least this large are written from their own buffer, uncopied. */
const DIRECT_WRITE = 32 * 1024;
/** Size of the coalescing buffer for small frames. */
const COALESCE = 64 * 1024;
/** How often a detached write looks for the lock or for room. */
const DETACHED_LOOK_MS = 2;

/** Writes frames to a pipe shared with CPython, for this process. */
export class PipeWriter {
  /** This process's own non-blocking descriptor of the pipe's write end. */
  readonly fd: number;
  readonly #lock: SemLock;
  /** Small frames coalesced for one write call. */
  readonly #out = new Uint8Array(COALESCE);
  /** The buffer begun and not yet all written, if any. */
  #buf: Uint8Array | null = null;
  #off = 0;
  #len = 0;
  /** Frames that are whole once `#buf` is written. */
  #frames = 0;
  /** A big frame's payload, begun once its header (`#buf`) is written. */
  #big: Uint8Array | null = null;
  /** This process holds the write lock for `writeNow`. */
  #heldNow = false;
  /** Frames this process completed writing, ever. */
  #framesWritten = 0;
  /** Bytes this process wrote, ever. */
  #bytes = 0;

  constructor(fd: number, lock: SemLock) {
    this.fd = fd;
    this.#lock = lock;
  }

  /**
   * Writes whole frames for `payloads` under the write lock, after the rest
   * of a frame `writeNow` began. `check` runs while waiting for the lock
   * and may throw. While `detached()` says so, the waits are timers that do
   * not keep the process alive.
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
      if (this.#buf === null) lock.release();
    }
  }

  /**
   * Writes whole frames for `payloads[from]` onwards now, if the write lock
   * is free (or held for a frame begun): as much as the pipe takes, waiting
   * for room at most `waitMs` at a time (synchronously).
   *
   * @returns how many payloads were handed over
   */
  writeNow(
    payloads: readonly Uint8Array[],
    from: number,
    waitMs: number,
  ): number {
    if (!this.#heldNow) {
      if (!this.#lock.tryAcquire()) {
        if (waitMs <= 0 || !this.#lock.sem.waitBlocking(waitMs)) return 0;
      }
      this.#heldNow = true;
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
   * Waits until `writeNow` can go on: for room if a frame it began is not
   * finished, else for the write lock (then held for the next `writeNow`).
   */
  async waitWritable(detached: () => boolean, until: Until): Promise<void> {
    if (detached()) {
      await sleepUnref(DETACHED_LOOK_MS);
    } else if (this.#heldNow) {
      await fdReady(this.fd, POLLOUT, until);
    } else if (await this.#lock.wait(until)) {
      this.#heldNow = true;
    }
  }

  /** Whether this process holds the write lock for `writeNow`. */
  writing(): boolean {
    return this.#heldNow;
  }

  /** Frames this process completed writing, ever. */
  framesWritten(): number {
    return this.#framesWritten;
  }

  /** Bytes this process wrote, ever. */
  bytesWritten(): number {
    return this.#bytes;
  }

  /**
   * Holding the write lock, with nothing begun: begins one big frame (its
   * header now, its payload from its own buffer next) or small frames
   * coalesced into `#out`.
   *
   * @returns the index after the payloads it took
   */
  #start(payloads: readonly Uint8Array[], i: number): number {
    const out = this.#out;
    const first = payloads[i];
    if (first.length >= DIRECT_WRITE) {
      this.#setBuffer(out, writeHeader(out, 0, first.length), 0);
      this.#big = first;
      return i + 1;
    }
    let fill = 0;
    let frames = 0;
    while (i < payloads.length) {
      const length = payloads[i].length;
      if (length >= DIRECT_WRITE || fill + 12 + length > out.length) break;
      fill += writeHeader(out, fill, length);
      out.set(payloads[i], fill);
      fill += length;
      frames++;
      i++;
    }
    this.#setBuffer(out, fill, frames);
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
        const n = writeSome(
          this.fd,
          buf,
          this.#off,
          Math.min(this.#len - this.#off, MAX_IO),
        );
        if (n === 0) return false;
        this.#off += n;
        this.#bytes += n;
      }
      this.#buf = null;
      this.#framesWritten += this.#frames;
      const big = this.#big;
      if (big !== null) {
        this.#big = null;
        this.#setBuffer(big, big.length, 1);
      }
    }
  }

  /** Makes `buf[0, length)`, holding `frames` whole frames, the buffer being written. */
  #setBuffer(buf: Uint8Array, length: number, frames: number): void {
    this.#buf = buf;
    this.#off = 0;
    this.#len = length;
    this.#frames = frames;
  }
}
