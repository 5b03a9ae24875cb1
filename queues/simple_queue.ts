/**
 * `SimpleQueue`: a pipe with a cross-process lock at each end, like Python's
 * `multiprocessing.SimpleQueue`.
 *
 * @module
 */

import { type Codec, codecFor } from "./_codec.ts";
import { Core, INTERNAL, type Internal, QUEUE_MARK } from "./_core.ts";
import { checkCPython } from "./_options.ts";
import { DecodeFailure, type QueueStats } from "./_transport.ts";
import { pickle } from "./cpython/_pickle.ts";
import { msgpack, type Serializer } from "./serializer.ts";

/**
 * Options of {@linkcode SimpleQueue}.
 *
 * @example Usage
 * ```ts
 * import { bytes, SimpleQueue, type SimpleQueueOptions } from "@mp/queues";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const options: SimpleQueueOptions = { serializer: bytes };
 * using q = new SimpleQueue<Uint8Array>(options);
 * await q.put(new Uint8Array([1, 2]));
 * deepStrictEqual(await q.get(), new Uint8Array([1, 2]));
 * ```
 */
export interface SimpleQueueOptions {
  /** How items become bytes; defaults to {@linkcode msgpack} (`pickle` with `cpython`). */
  serializer?: Serializer;
  /**
   * Make the queue CPython's own `SimpleQueue` (a pipe, two named POSIX
   * semaphores, pickle payloads), so that unmodified CPython processes
   * share it (see `spawnPython`). Its serializer is `pickle`.
   */
  cpython?: boolean;
}

/**
 * A multi-producer, multi-consumer queue shared by processes, with no buffer
 * and no size bound: `put` writes the item to the pipe itself, under the
 * write lock, and resolves once it is there.
 *
 * Hand it to a worker process through {@linkcode spawn} args.
 *
 * @typeParam T The type of the items.
 *
 * @example Usage
 * ```ts
 * import { SimpleQueue } from "@mp/queues";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const q = new SimpleQueue<{ id: number }>();
 * await q.put({ id: 1 });
 * deepStrictEqual(await q.get(), { id: 1 });
 * q.close();
 * ```
 */
export class SimpleQueue<T = unknown> {
  readonly #core: Core;
  readonly #codec: Codec;

  /**
   * Creates a queue: a pipe and a little shared memory (no names, so
   * nothing to leak).
   *
   * @param options The serializer.
   */
  constructor(options?: SimpleQueueOptions) {
    const adopted = (options as { [INTERNAL]?: Internal } | undefined)
      ?.[INTERNAL]?.core;
    const cpython = checkCPython(options);
    this.#codec = codecFor(
      options?.serializer ?? (cpython ? pickle : msgpack),
    );
    this.#core = adopted ??
      Core.create("SimpleQueue", 0, this.#codec.name, cpython);
    Object.defineProperty(this, QUEUE_MARK, { value: this.#core });
  }

  /** Whether this process has closed the queue. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Serializes `item` at once and writes it to the pipe.
   *
   * @param item The value to send.
   * @returns A promise that resolves once the item is in the pipe.
   * @throws {TypeError} (rejects) if the serializer cannot encode `item`.
   * @throws {ClosedError} (rejects) after `close()`.
   *
   * @example Usage
   * ```ts
   * import { SimpleQueue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * const q = new SimpleQueue<string>();
   * await q.put("hello");
   * strictEqual(await q.get(), "hello");
   * q.close();
   * ```
   */
  async put(item: T): Promise<void> {
    const core = this.#core;
    core.check();
    const payload = this.#codec.encode(item);
    const channel = core.channel;
    // Written at once when the write lock is free and the pipe has room; a
    // frame the pipe took only part of is finished below.
    const begun = channel.writeNow([payload], 0, 0) === 1;
    if (begun && !channel.writing()) {
      this.#codec.release(payload);
      return;
    }
    core.enter();
    try {
      await channel.writeFrames(
        begun ? [] : [payload],
        core.check,
        undefined,
        core.until(Infinity, undefined),
      );
      this.#codec.release(payload);
    } finally {
      core.leave();
    }
  }

  /**
   * Takes the next item, waiting as long as it takes.
   *
   * @returns A promise of the item.
   * @throws {ClosedError} (rejects) after `close()`, also while waiting.
   *
   * @example Usage
   * ```ts
   * import { SimpleQueue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * const q = new SimpleQueue<number>();
   * await q.put(42);
   * strictEqual(await q.get(), 42);
   * q.close();
   * ```
   */
  async get(): Promise<T> {
    const core = this.#core;
    core.check();
    core.enter();
    let items;
    try {
      items = await core.channel.readFrames({
        maxItems: 1,
        maxBytes: Infinity,
        until: core.until(Infinity, undefined),
        check: core.check,
        decode: this.#codec.decode,
      });
    } finally {
      core.leave();
    }
    const item = items![0];
    if (item instanceof DecodeFailure) throw item.error;
    return item as T;
  }

  /**
   * Whether the pipe holds nothing right now (other processes may change
   * that at any moment).
   *
   * @returns `true` if no item is waiting.
   * @throws {ClosedError} after `close()`.
   *
   * @example Usage
   * ```ts
   * import { SimpleQueue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * const q = new SimpleQueue<number>();
   * strictEqual(q.empty(), true);
   * await q.put(1);
   * strictEqual(q.empty(), false);
   * await q.get();
   * q.close();
   * ```
   */
  empty(): boolean {
    this.#core.check();
    return !this.#core.channel.readable();
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
   * import { SimpleQueue } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * using q = new SimpleQueue();
   * deepStrictEqual(q.stats(), { tornFrames: 0, lostFrames: 0 });
   * ```
   */
  stats(): QueueStats {
    this.#core.check();
    return this.#core.channel.stats();
  }

  /**
   * Closes this process's handle: later calls throw `ClosedError`, pending
   * `get`s reject with it, and the pipe and shared memory are released. Other
   * processes' handles keep working. Calling it again does nothing.
   *
   * @example Usage
   * ```ts
   * import { SimpleQueue } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * const q = new SimpleQueue();
   * q.close();
   * q.close();
   * strictEqual(q.closed, true);
   * ```
   */
  close(): void {
    this.#core.close();
  }

  /**
   * Closes the queue (for `using`).
   *
   * @example Usage
   * ```ts
   * import { SimpleQueue } from "@mp/queues";
   *
   * using q = new SimpleQueue<number>();
   * await q.put(1);
   * await q.get();
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }
}
