// The feeder of a `Queue`: the buffer of payloads this process has put and
// not yet written, and the async task that writes it to the transport in
// batches. Started by the first put, it ends when the buffer is empty and is
// started again by the next put; `flush()` waits for it. After `cancel()` it
// goes on writing while the process lives, but no longer keeps it alive:
// what is left unwritten at exit gives its slots back (the producer table).

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
  /** After `cancel()`: the process may exit without the feeder. */
  #detached = false;
  /** The feeder's waits: `cancel()` wakes them (to stop keeping the process alive). */
  readonly #group = new WaitGroup();
  readonly #until: Until = { deadline: Infinity, group: this.#group };
  /** Items ever put in this process, and written (or dropped) of them. */
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
  readonly #isDetached = (): boolean => this.#detached;

  constructor(core: Core, codec: Codec) {
    this.#core = core;
    this.#codec = codec;
  }

  /**
   * Buffers an item whose slot this process took. A lone small item (no
   * other put in the last {@linkcode LONE_MS}, nothing buffered) is written
   * at once when the pipe has room, as Python's feeder thread would.
   */
  push(payload: Uint8Array): void {
    const now = performance.now();
    const lone = now - this.#lastPut > LONE_MS;
    this.#lastPut = now;
    if (
      lone && !this.#feeding && this.#buffer.length === 0 &&
      this.#core.channel.writeSmallNow(payload)
    ) {
      this.#queued++;
      this.#written++;
      return;
    }
    this.#buffer.push(payload);
    this.#bufferedBytes += payload.length;
    this.#queued++;
    this.#wake();
  }

  /** Buffers `n` items from `payloads[from]`, whose slots this process took. */
  pushMany(payloads: readonly Uint8Array[], from: number, n: number): void {
    for (let k = 0; k < n; k++) {
      this.#buffer.push(payloads[from + k]);
      this.#bufferedBytes += payloads[from + k].length;
    }
    this.#queued += n;
    this.#wake();
  }

  /**
   * Resolves at once, or (with more than {@linkcode SOFT_LIMIT} bytes
   * unwritten) once the feeder takes its next batch: an unbounded queue's
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

  /** Starts the feeder task, or hurries it when the buffer is big. */
  #wake(): void {
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

  /** The feeder: drains the buffer to the pipe, then ends until woken again. */
  async #feed(): Promise<void> {
    const core = this.#core;
    try {
      while (this.#buffer.length > 0) {
        // Let the caller go on putting until the next event-loop turn (or
        // until the buffer is large), so that one write carries many frames.
        if (!this.#bigEnough() && await this.#stillGrowing()) {
          await this.#nextTurn();
        }
        const batch = this.#buffer;
        this.#buffer = [];
        this.#bufferedBytes = 0;
        this.#releasePuts();
        try {
          await core.channel.writeFrames(
            batch,
            undefined,
            this.#isDetached,
            this.#until,
          );
          for (const payload of batch) this.#codec.release(payload);
        } catch (e) {
          // Only an OS error can land here (items were serialized in put):
          // report it, as Python's feeder does, and go on with the next batch.
          console.error(
            `@mp/queues: the feeder dropped ${batch.length} item(s):`,
            e,
          );
          core.ledger.unreserve(batch.length);
        }
        this.#written += batch.length;
        this.#settleFlushes();
      }
    } finally {
      this.#setFeeding(false);
      this.#settleFlushes();
      core.leave();
    }
  }

  /** The feeder took a batch: puts waiting in `pace()` go on. */
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
