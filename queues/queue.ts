/**
 * `Queue`: Python's `multiprocessing.Queue` for Deno processes, with a
 * lazily started feeder task, an optional size bound, timeouts and aborts.
 *
 * @module
 */

import { type Codec, codecFor } from "./_codec.ts";
import { Core, INTERNAL, type Internal, QUEUE_MARK } from "./_core.ts";
import { Feeder } from "./_feeder.ts";
import type { Ledger } from "./_ledger.ts";
import { checkBatch, checkCPython, checkMaxsize } from "./_options.ts";
import { pickle } from "./cpython/_pickle.ts";
import { step } from "./native/_steps.ts";
import { DecodeFailure, NOTHING, type QueueStats } from "./_transport.ts";
import { deadlineOf, waitFor } from "./wait/_until.ts";
import { Empty, Full } from "./errors.ts";
import { type QueueLike, untilClosed } from "./queue_like.ts";
import { msgpack } from "./serializer.ts";
import type {
  GetManyOptions,
  GetOptions,
  PutManyOptions,
  PutOptions,
  QueueOptions,
} from "./queue_options.ts";

/**
 * A multi-producer, multi-consumer FIFO queue shared by processes.
 *
 * `put` serializes the item at once, takes a slot (with a bound) and appends
 * the bytes to a local buffer; a feeder task, started by the first `put`,
 * writes the buffer to the pipe under a cross-process write lock. `get` waits
 * for data, then reads one whole frame under a cross-process read lock.
 * Hand the queue to a worker process through {@linkcode spawn} args.
 *
 * @typeParam T The type of the items.
 *
 * @example Usage
 * ```ts
 * import { Queue } from "@mp/queues";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * await using q = new Queue<number[]>({ maxsize: 10 });
 * await q.put([1, 2, 3]);
 * deepStrictEqual(await q.get(), [1, 2, 3]);
 * ```
 */
export class Queue<T = unknown> implements QueueLike<T> {
  readonly #core: Core;
  readonly #ledger: Ledger;
  readonly #codec: Codec;
  readonly #feeder: Feeder;
  /** Items taken from the pipe and not handed out yet (after a failure). */
  #pending: unknown[] = [];

  /**
   * Creates a queue: a pipe and a little shared memory (no names, so
   * nothing to leak).
   *
   * @param options The size bound and the serializer.
   * @throws {RangeError} if `maxsize` is `NaN`, not an integer, or above 2^31−1.
   */
  constructor(options?: QueueOptions) {
    const internal = (options as { [INTERNAL]?: Internal } | undefined)
      ?.[INTERNAL];
    const cpython = checkCPython(options);
    this.#codec = codecFor(
      options?.serializer ?? (cpython ? pickle : msgpack),
    );
    this.#core = internal?.core ?? Core.create(
      internal?.kind ?? "Queue",
      checkMaxsize(options?.maxsize),
      this.#codec.name,
      cpython,
    );
    this.#ledger = this.#core.ledger;
    this.#feeder = new Feeder(this.#core, this.#codec);
    Object.defineProperty(this, QUEUE_MARK, { value: this.#core });
  }

  /** Whether this process has closed the queue. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /** The size bound; `0` when unbounded. */
  get maxsize(): number {
    return this.#core.maxsize;
  }

  /**
   * Puts `item` in the queue. The item is serialized at once (so bad input
   * rejects here and the queue is unchanged); with a bound, waits for a slot.
   *
   * @param item The value to send.
   * @param options `block`, `timeout` (ms) and `signal`.
   * @returns A promise that resolves once the item is buffered (not yet written).
   * @throws {TypeError} (rejects) if the serializer cannot encode `item`.
   * @throws {Full} (rejects) when no slot came free in time.
   * @throws {ClosedError} (rejects) after `close()`, also while waiting.
   *
   * @example Usage
   * ```ts
   * import { Full, Queue } from "@mp/queues";
   * import { rejects } from "node:assert/strict";
   *
   * await using q = new Queue<string>({ maxsize: 1 });
   * await q.put("a");
   * await rejects(q.put("b", { timeout: 10 }), Full);
   * await q.get();
   * ```
   */
  async put(item: T, options?: PutOptions): Promise<void> {
    this.#core.check();
    options?.signal?.throwIfAborted();
    const deadline = deadlineOf(options);
    const payload = this.#codec.encode(item);
    if (this.#ledger.reserve(1) === 0) {
      if (!await this.#waitSlot(deadline, options?.signal)) throw new Full();
    }
    this.#feeder.push(payload);
    const paced = this.#feeder.pace();
    if (paced !== undefined) await paced;
  }

  /**
   * Puts `item` if a slot is free, without waiting for one. The item is
   * written to the pipe at once when it can be (the write lock is free and
   * the pipe has room), else by the feeder. With more than 1 MiB of this
   * process's items unwritten, it writes them before it returns, waiting
   * synchronously while the readers make progress (and no longer once they
   * made none for 50 ms): a synchronous loop of `putNowait` goes at the
   * readers' pace instead of buffering without bound. `await put()` waits
   * the same way without blocking the event loop.
   *
   * @param item The value to send.
   * @throws {TypeError} if the serializer cannot encode `item`.
   * @throws {Full} if the queue is full.
   * @throws {ClosedError} after `close()`.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * await using q = new Queue<number>();
   * q.putNowait(7);
   * strictEqual(await q.get(), 7);
   * ```
   */
  putNowait(item: T): void {
    this.#core.check();
    const payload = this.#codec.encode(item);
    if (this.#ledger.reserve(1) === 0) throw new Full();
    this.#feeder.pushNow(payload);
  }

  /**
   * Puts every item, in order. All are serialized before any is buffered: one
   * bad item rejects with `TypeError` and nothing is put. With a bound, each
   * item waits for its slot; if the timeout expires or the signal aborts,
   * the items already put stay put.
   *
   * @param items The values to send.
   * @param options `timeout` (ms) and `signal`.
   * @returns A promise that resolves once every item is buffered.
   * @throws {TypeError} (rejects) if the serializer cannot encode an item.
   * @throws {Full} (rejects) when slots did not come free in time.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * await using q = new Queue<number>();
   * await q.putMany([1, 2, 3]);
   * deepStrictEqual(await q.getMany({ maxItems: 3, timeout: 1000 }), [1, 2, 3]);
   * ```
   */
  async putMany(items: readonly T[], options?: PutManyOptions): Promise<void> {
    this.#core.check();
    options?.signal?.throwIfAborted();
    const deadline = deadlineOf(options);
    const codec = this.#codec;
    const payloads = items.map((item) => codec.encode(item));
    let i = 0;
    while (i < payloads.length) {
      let n = this.#ledger.reserve(payloads.length - i);
      if (n === 0) {
        if (!await this.#waitSlot(deadline, options?.signal)) throw new Full();
        n = 1;
      }
      this.#feeder.pushMany(payloads, i, n);
      i += n;
      const paced = this.#feeder.pace();
      if (paced !== undefined) await paced;
    }
  }

  /**
   * Waits for a slot and takes it (dead producers' slots are given back on
   * the way).
   *
   * @returns false if the deadline passed first
   */
  async #waitSlot(deadline: number, signal?: AbortSignal): Promise<boolean> {
    const core = this.#core;
    const ledger = this.#ledger;
    core.enter();
    try {
      const got = await waitFor(
        () => {
          if (ledger.reserve(1) === 1) return true;
          ledger.sweep();
          return ledger.reserve(1) === 1;
        },
        (until) => ledger.waitSlot(until),
        core.until(deadline, signal),
        core.check,
      );
      if (got && core.closed) {
        ledger.unreserve(1);
        core.check();
      }
      if (!got) core.check();
      return got;
    } finally {
      core.leave();
    }
  }

  /**
   * Takes the next item, waiting (without holding the read lock) until one
   * arrives.
   *
   * @param options `block`, `timeout` (ms) and `signal`.
   * @returns A promise of the item.
   * @throws {Empty} (rejects) when no item arrived in time.
   * @throws (rejects with) what the serializer's `decode` threw for the next
   * item; that item is consumed, and no other item is lost with it.
   * @throws {ClosedError} (rejects) after `close()`, also while waiting.
   *
   * @example Usage
   * ```ts
   * import { Empty, Queue } from "@mp/queues";
   * import { rejects } from "node:assert/strict";
   *
   * await using q = new Queue<number>();
   * await rejects(q.get({ timeout: 20 }), Empty);
   * ```
   */
  async get(options?: GetOptions): Promise<T> {
    this.#core.check();
    options?.signal?.throwIfAborted();
    const items = await this.#take(
      1,
      Infinity,
      deadlineOf(options),
      options?.signal,
    );
    return items[0];
  }

  /**
   * Takes an item if one is in the pipe, without waiting.
   *
   * @returns The item.
   * @throws {Empty} if none is there (or another reader holds the lock).
   * @throws what the serializer's `decode` threw for the item (consumed).
   * @throws {ClosedError} after `close()`.
   *
   * @example Usage
   * ```ts
   * import { Empty, Queue } from "@mp/queues";
   * import { throws } from "node:assert/strict";
   *
   * await using q = new Queue<number>();
   * throws(() => q.getNowait(), Empty);
   * ```
   */
  getNowait(): T {
    const core = this.#core;
    core.check();
    if (this.#pending.length > 0) return this.#handOut(1)[0];
    const item = core.channel.readFrameNow(this.#codec.decode);
    if (item === NOTHING) throw new Empty();
    this.#pending = [item];
    return this.#handOut(1)[0];
  }

  /**
   * Waits for at least one item, then takes what is already in the pipe, up
   * to `maxItems` and `maxBytes`, under one hold of the read lock. Never
   * returns an empty array.
   *
   * @param options `maxItems` (default 1024), `maxBytes`, `timeout` (ms), `signal`.
   * @returns A promise of the items, in pipe order.
   * @throws {Empty} (rejects) when no item arrived in time.
   * @throws (rejects with) what the serializer's `decode` threw for the next
   * item; that item is consumed, and no other item is lost with it.
   * @throws {RangeError} (rejects) if `maxItems` is not a positive integer.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * await using q = new Queue<string>();
   * await q.putMany(["a", "b"]);
   * await q.joinThread();
   * deepStrictEqual(await q.getMany(), ["a", "b"]);
   * ```
   */
  async getMany(options?: GetManyOptions): Promise<T[]> {
    this.#core.check();
    options?.signal?.throwIfAborted();
    const { maxItems, maxBytes } = checkBatch(options);
    return await this.#take(
      maxItems,
      maxBytes,
      deadlineOf(options),
      options?.signal,
    );
  }

  /** Takes items from the transport (which frees their slots) and hands them out. */
  async #take(
    maxItems: number,
    maxBytes: number,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<T[]> {
    if (this.#pending.length > 0) return this.#handOut(maxItems);
    const core = this.#core;
    core.enter();
    let items;
    try {
      items = await core.channel.readFrames({
        maxItems,
        maxBytes,
        until: core.until(deadline, signal),
        check: core.check,
        decode: this.#codec.decode,
      });
    } finally {
      core.leave();
    }
    if (items === null) throw new Empty();
    step("get:returned");
    this.#pending = items;
    return this.#handOut(maxItems);
  }

  /**
   * Hands out up to `max` taken items, in pipe order, stopping before one
   * whose decoding failed; that one alone is thrown (by the next call if
   * items came before it), so no good item is lost with a bad one.
   */
  #handOut(max: number): T[] {
    const pending = this.#pending;
    const first = pending[0];
    if (first instanceof DecodeFailure) {
      pending.shift();
      this.#ledger.undecodable(1); // it will never be marked done
      throw first.error;
    }
    let k = 1;
    while (
      k < pending.length && k < max && !(pending[k] instanceof DecodeFailure)
    ) k++;
    const out = k === pending.length ? pending : pending.slice(0, k);
    this.#pending = k === pending.length ? [] : pending.slice(k);
    this.#ledger.delivered(k);
    return out as T[];
  }

  /**
   * The approximate number of items put and not yet got, in every process
   * (items still in a feeder buffer count).
   *
   * @returns The count.
   * @throws {ClosedError} after `close()`.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * await using q = new Queue<number>();
   * await q.put(1);
   * strictEqual(q.qsize(), 1);
   * await q.get();
   * strictEqual(q.qsize(), 0);
   * ```
   */
  qsize(): number {
    this.#core.check();
    return this.#ledger.size();
  }

  /**
   * Whether `qsize()` is 0.
   *
   * @returns `true` if no item is waiting.
   * @throws {ClosedError} after `close()`.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * await using q = new Queue<number>();
   * strictEqual(q.empty(), true);
   * ```
   */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /**
   * Whether every slot is taken (never for an unbounded queue).
   *
   * @returns `true` if a `put` would wait.
   * @throws {ClosedError} after `close()`.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * await using q = new Queue<number>({ maxsize: 1 });
   * await q.put(1);
   * strictEqual(q.full(), true);
   * await q.get();
   * ```
   */
  full(): boolean {
    this.#core.check();
    return this.#ledger.full();
  }

  /**
   * Counts of frames the crash recovery discarded, across every process that
   * shares the queue: `tornFrames` were cut short by a writer that died while
   * writing them, `lostFrames` were being read by a reader that died.
   *
   * @returns The counts.
   * @throws {ClosedError} after `close()`.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * await using q = new Queue();
   * deepStrictEqual(q.stats(), { tornFrames: 0, lostFrames: 0 });
   * ```
   */
  stats(): QueueStats {
    this.#core.check();
    return this.#core.channel.stats();
  }

  /**
   * Closes this process's handle, synchronously: `closed` is true before it
   * returns, later calls throw `ClosedError`, pending `get`s and `put`s of
   * this process reject with it. Items already buffered are still written;
   * then the pipe and shared memory are released. Calling it again does nothing.
   *
   * @example Usage
   * ```ts
   * import { ClosedError, Queue } from "@mp/queues";
   * import { throws } from "node:assert/strict";
   *
   * const q = new Queue<number>();
   * q.close();
   * throws(() => q.putNowait(1), ClosedError);
   * ```
   */
  close(): void {
    this.#core.close();
  }

  /**
   * Resolves when everything this process buffered so far is in the pipe (at
   * once after `cancelJoinThread()`).
   *
   * @returns A promise that resolves after the flush.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * const q = new Queue<number>();
   * await q.put(1);
   * await q.joinThread();
   * strictEqual(q.getNowait(), 1);
   * q.close();
   * ```
   */
  joinThread(): Promise<void> {
    return this.#feeder.flush();
  }

  /**
   * Lets this process exit without waiting for what it put to be written
   * (Python's `cancel_join_thread`). Items put before or after are still
   * written while the process lives (a frame begun is finished); at exit,
   * what is left unwritten is lost, and its slots (and unfinished counts)
   * are given back. `joinThread()` resolves at once from then on.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   *
   * const q = new Queue<number>();
   * q.cancelJoinThread();
   * await q.joinThread(); // resolves at once
   * q.close();
   * ```
   */
  cancelJoinThread(): void {
    this.#feeder.cancel();
  }

  /**
   * Gets items in a loop until this process closes the queue.
   *
   * @returns An async iterator of the items.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const q = new Queue<number>();
   * await q.putMany([1, 2]);
   * const seen: number[] = [];
   * for await (const x of q) {
   *   seen.push(x);
   *   if (seen.length === 2) q.close();
   * }
   * deepStrictEqual(seen, [1, 2]);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return untilClosed(() => this.get());
  }

  /**
   * `close()`, then `joinThread()` (for `await using`).
   *
   * @returns A promise that resolves after the flush.
   *
   * @example Usage
   * ```ts
   * import { Queue } from "@mp/queues";
   *
   * await using q = new Queue<number>();
   * await q.put(1);
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.joinThread();
  }
}
