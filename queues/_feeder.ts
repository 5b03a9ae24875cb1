// The feeder of a `Queue`: the buffer of payloads this process has put and
// not yet written, and the async task that writes it to the transport in
// batches. Started by the first put, it ends when the buffer is empty and is
// started again by the next put; `flush()` waits for it. Puts write through
// the same buffer synchronously when they can (`Transport.writeNow`), so a
// synchronous loop of puts, during which the task cannot run, still moves
// it. After `cancel()` the task goes on writing while the process lives, but
// no longer keeps it alive: what is left unwritten at exit gives its slots
// back (the producer table).

import type { Codec } from "./_codec.ts";
import type { Core } from "./_core.ts";
import { WaitGroup } from "./wait/_entry.ts";
import type { Until } from "./wait/_until.ts";

/** Buffered items that make the feeder write without waiting for the next turn. */
const KICK_ITEMS = 1024;
/** Buffered bytes that do the same (about what the pipe holds). */
const KICK_BYTES = 1 << 20;
/** Unwritten bytes above which a put waits for the feeder (see `Feeder.pace`). */
const SOFT_LIMIT = 1 << 20;
/** The longest such wait, after which puts stop waiting for a stuck pipe. */
const STALL_MS = 50;
/** A put this long after the previous one is written at once if it can be. */
const LONE_MS = 0.02;
/** Buffered bytes from which a put writes through (about one coalesced write). */
const WRITE_THROUGH = 64 * 1024;

/** A caller of `flush()`: resolved once `target` items are written. */
interface FlushWaiter {
  readonly target: number;
  readonly resolve: () => void;
}

/** Writes what this process puts in one queue. */
export class Feeder {
  readonly #core: Core;
  readonly #codec: Codec;
  /** Payloads put and not yet handed to the transport. */
  #buffer: Uint8Array[] = [];
  #bufferedBytes = 0;
  /** Whether the feeder task runs. */
  #feeding = false;
  /** Payloads handed to the transport and not yet all in the pipe, in order. */
  #handed: Uint8Array[] = [];
  #handedHead = 0;
  /** `framesWritten()` of the transport when last counted. */
  #framesSeen = 0;
  /** After `cancel()`: the process may exit without the feeder. */
  #detached = false;
  /** The feeder's waits: `cancel()` wakes them (to stop keeping the process alive). */
  readonly #group = new WaitGroup();
  readonly #until: Until = { deadline: Infinity, group: this.#group };
  /** Items ever put in this process, and those in the pipe (or dropped). */
  #queued = 0;
  #written = 0;
  #lastPut = -Infinity;
  #flushWaiters: FlushWaiter[] = [];
  /** Ends the feeder's wait for the next turn (the buffer grew big). */
  #kick: (() => void) | null = null;
  /** Puts waiting for the feeder's next batch (see `pace`). */
  #progress: (() => void)[] = [];
  /** Nothing reached the pipe for {@linkcode STALL_MS}: puts stop waiting. */
  #stalled = false;
  /** `bytesWritten()` when the puts stalled (they wait again once it moves). */
  #stalledAt = 0;
  readonly #isDetached = (): boolean => this.#detached;

  constructor(core: Core, codec: Codec) {
    this.#core = core;
    this.#codec = codec;
  }

  /**
   * Buffers an item whose slot this process took, for `put()`. It is written
   * through at once (when the write lock is free and the pipe has room) if
   * it is a lone item (no other put in the last {@linkcode LONE_MS}, as
   * Python's feeder thread would), or once {@linkcode WRITE_THROUGH} bytes
   * are buffered; else the feeder writes it.
   */
  push(payload: Uint8Array): void {
    this.#add(payload, false);
  }

  /**
   * Buffers an item whose slot this process took, for `putNowait()`: as
   * {@linkcode push}, and with more than {@linkcode SOFT_LIMIT} bytes
   * unwritten it writes them through, waiting synchronously for room while
   * the pipe drains (at most {@linkcode STALL_MS} without progress): a
   * synchronous loop of puts goes at the pace of its readers instead of
   * buffering without bound, and one whose readers stopped stops waiting.
   */
  pushNow(payload: Uint8Array): void {
    this.#add(payload, true);
  }

  /**
   * Buffers a payload and writes through what `push` or (`paced`)
   * `pushNow` says, then makes sure the feeder runs for the rest.
   */
  #add(payload: Uint8Array, paced: boolean): void {
    const now = performance.now();
    const lone = now - this.#lastPut > LONE_MS;
    this.#lastPut = now;
    this.#append(payload);
    let waitMs = 0;
    if (paced) {
      if (
        this.#stalled && this.#core.channel.bytesWritten() !== this.#stalledAt
      ) {
        this.#stalled = false;
      }
      if (this.#bufferedBytes > SOFT_LIMIT && !this.#stalled) waitMs = STALL_MS;
    }
    if (
      waitMs > 0 || (lone && this.#buffer.length === 1) ||
      this.#bufferedBytes >= WRITE_THROUGH
    ) this.#writeThroughNow(waitMs);
    this.#wake();
  }

  /** Buffers `n` items from `payloads[from]`, whose slots this process took. */
  pushMany(payloads: readonly Uint8Array[], from: number, n: number): void {
    for (let k = 0; k < n; k++) this.#append(payloads[from + k]);
    if (this.#bufferedBytes >= WRITE_THROUGH) this.#writeThroughNow(0);
    this.#wake();
  }

  /**
   * Resolves at once, or (with more than {@linkcode SOFT_LIMIT} bytes
   * unwritten) once the buffer is written down to it: an unbounded queue's
   * put still never blocks for good, but a producer far ahead of the pipe
   * does not pile up copies (and fresh memory) without end. If nothing at
   * all was written to the pipe for {@linkcode STALL_MS} (nobody reads),
   * puts stop waiting until the feeder moves again.
   */
  pace(): Promise<void> | undefined {
    if (this.#bufferedBytes <= SOFT_LIMIT || this.#stalled) return undefined;
    const { promise, resolve } = Promise.withResolvers<void>();
    const channel = this.#core.channel;
    let seen = channel.bytesWritten();
    const look = () => {
      const now = channel.bytesWritten();
      if (now !== seen) {
        seen = now;
        timer = setTimeout(look, STALL_MS);
        return;
      }
      this.#stalled = true;
      this.#progress = this.#progress.filter((r) => r !== done);
      resolve();
    };
    let timer = setTimeout(look, STALL_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    this.#progress.push(done);
    return promise;
  }

  /** Resolves when everything buffered so far is written (at once after `cancel()`). */
  flush(): Promise<void> {
    if (this.#detached || (!this.#feeding && this.#buffer.length === 0)) {
      return Promise.resolve();
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#flushWaiters.push({ target: this.#queued, resolve });
    return promise;
  }

  /**
   * Lets the process exit without waiting for the feeder: it goes on writing
   * while the process lives (a frame begun is finished), on timers that do
   * not keep the process alive.
   */
  cancel(): void {
    this.#detached = true;
    this.#group.wakeAll();
    this.#settleFlushes();
  }

  /** Adds a payload to the buffer. */
  #append(payload: Uint8Array): void {
    this.#buffer.push(payload);
    this.#bufferedBytes += payload.length;
    this.#queued++;
  }

  /**
   * Writes the buffer through now, as far as the write lock (if free) and
   * the pipe's room allow, waiting for room at most `waitMs` at a time (0:
   * not at all); if the pipe took nothing in all that time, later puts stop
   * waiting until it moves. An OS error is left for the feeder task (which
   * meets it again, and reports it).
   */
  #writeThroughNow(waitMs: number): void {
    const before = waitMs > 0 ? this.#core.channel.bytesWritten() : 0;
    try {
      this.#writeThrough(waitMs);
    } catch {
      return;
    }
    if (waitMs > 0 && this.#core.channel.bytesWritten() === before) {
      this.#stalled = true;
      this.#stalledAt = before;
    }
  }

  /**
   * Hands the transport what it takes now from the front of the buffer (a
   * frame it begun and did not finish first), then counts the payloads now
   * whole in the pipe.
   *
   * @throws an OS error of the write (what was handed over stays handed)
   */
  #writeThrough(waitMs: number): void {
    const channel = this.#core.channel;
    const buffer = this.#buffer;
    if (buffer.length > 0 || channel.writing()) {
      const n = channel.writeNow(buffer, 0, waitMs);
      if (n > 0) {
        for (let k = 0; k < n; k++) {
          this.#bufferedBytes -= buffer[k].length;
          this.#handed.push(buffer[k]);
        }
        this.#buffer = n === buffer.length ? [] : buffer.slice(n);
      }
    }
    this.#countWritten();
    if (this.#bufferedBytes <= SOFT_LIMIT) this.#releasePuts();
  }

  /**
   * Counts the handed payloads the transport finished writing (frames finish
   * in the order they began) and gives their buffers back to the codec.
   */
  #countWritten(): void {
    const total = this.#core.channel.framesWritten();
    let done = total - this.#framesSeen;
    if (done === 0) return;
    this.#framesSeen = total;
    const handed = this.#handed;
    this.#written += done;
    while (done-- > 0) this.#codec.release(handed[this.#handedHead++]);
    if (this.#handedHead === handed.length) {
      handed.length = 0;
      this.#handedHead = 0;
    }
    this.#settleFlushes();
  }

  /** Whether payloads wait: buffered, or handed over and not yet written. */
  #unwritten(): boolean {
    return this.#buffer.length > 0 || this.#core.channel.writing();
  }

  /** Starts the feeder task, or hurries it when the buffer is big. */
  #wake(): void {
    if (!this.#unwritten()) return;
    if (this.#feeding) {
      if (this.#kick !== null && this.#bigEnough()) this.#kick();
      return;
    }
    this.#setFeeding(true);
    this.#core.enter();
    this.#feed();
  }

  /** Tells the transport's readers in this process whether frames are queued. */
  #setFeeding(on: boolean): void {
    this.#feeding = on;
    this.#core.channel.setQueued(on);
  }

  /**
   * The feeder: writes the buffer through, waiting for room or for the
   * write lock between tries, then ends until woken again.
   */
  async #feed(): Promise<void> {
    const core = this.#core;
    try {
      let waited = false;
      while (this.#unwritten()) {
        // Let the caller go on putting until the next event-loop turn (or
        // until the buffer is large), so that one write carries many frames
        // (not while a frame is begun: the write lock is held; nor right
        // after waiting for room: what waited goes at once).
        if (
          !waited && !core.channel.writing() && !this.#bigEnough() &&
          await this.#stillGrowing()
        ) {
          await this.#nextTurn();
        }
        waited = false;
        try {
          this.#writeThrough(0);
          if (this.#unwritten()) {
            await core.channel.waitWritable(this.#isDetached, this.#until);
            waited = true;
          }
        } catch (e) {
          // Only an OS error can land here (items were serialized in put):
          // report it, as Python's feeder does, drop what is not written,
          // and stop (the next put starts the feeder again).
          this.#drop(e);
          break;
        }
      }
    } finally {
      this.#setFeeding(false);
      this.#settleFlushes();
      core.leave();
    }
  }

  /** Drops (and reports) what is buffered or handed over and not written. */
  #drop(error: unknown): void {
    this.#countWritten();
    const lost = this.#buffer.length + this.#handed.length - this.#handedHead;
    console.error(`@mp/queues: the feeder dropped ${lost} item(s):`, error);
    this.#core.ledger.unreserve(lost);
    this.#written += lost;
    this.#buffer = [];
    this.#bufferedBytes = 0;
    this.#handed = [];
    this.#handedHead = 0;
    this.#framesSeen = this.#core.channel.framesWritten();
    this.#settleFlushes();
  }

  /** The buffer is down to {@linkcode SOFT_LIMIT}: puts waiting in `pace()` go on. */
  #releasePuts(): void {
    if (this.#progress.length === 0 && !this.#stalled) return;
    this.#stalled = false;
    const waiting = this.#progress;
    this.#progress = [];
    for (const done of waiting) done();
  }

  /** Whether the buffer is big enough to write without waiting a turn. */
  #bigEnough(): boolean {
    return this.#buffer.length >= KICK_ITEMS ||
      this.#bufferedBytes >= KICK_BYTES;
  }

  /**
   * Yields a few microtasks: if the buffer grew meanwhile, a producer is
   * putting in a loop and waiting a turn pays; a lone put is written at once.
   */
  async #stillGrowing(): Promise<boolean> {
    const before = this.#buffer.length;
    for (let k = 0; k < 4; k++) await null;
    return this.#buffer.length > before;
  }

  /** Resolves at the next event-loop turn, or at once when kicked. */
  #nextTurn(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#kick = null;
        resolve();
      }, 0);
      if (this.#detached) Deno.unrefTimer(timer);
      this.#kick = () => {
        this.#kick = null;
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Resolves the flushes whose items are all written. */
  #settleFlushes(): void {
    if (this.#flushWaiters.length === 0) return;
    const done = this.#detached ? Infinity : this.#written;
    const idle = !this.#feeding;
    this.#flushWaiters = this.#flushWaiters.filter((w) => {
      if (w.target <= done || (idle && this.#buffer.length === 0)) {
        w.resolve();
        return false;
      }
      return true;
    });
  }
}
