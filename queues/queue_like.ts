/**
 * The async surface every queue of this package offers, local or remote:
 * code written against {@linkcode QueueLike} and
 * {@linkcode JoinableQueueLike} runs on either.
 *
 * @module
 */

import { ClosedError } from "./errors.ts";
import type { JoinOptions } from "./joinable_queue.ts";
import type {
  GetManyOptions,
  GetOptions,
  PutManyOptions,
  PutOptions,
} from "./queue_options.ts";

/**
 * A queue's async surface: what `Queue` (and a queue on another engine)
 * implements.
 *
 * @typeParam T The type of the items.
 *
 * @example Usage
 * ```ts
 * import { Queue, type QueueLike } from "@mp/queues";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * async function drain<T>(q: QueueLike<T>, n: number): Promise<T[]> {
 *   const out: T[] = [];
 *   while (out.length < n) out.push(...await q.getMany({ maxItems: n - out.length }));
 *   return out;
 * }
 * await using q = new Queue<number>();
 * await q.putMany([1, 2, 3]);
 * deepStrictEqual(await drain(q, 3), [1, 2, 3]);
 * ```
 */
export interface QueueLike<T> extends AsyncIterable<T>, AsyncDisposable {
  /** Puts one item (waits for room with a bound). */
  put(item: T, options?: PutOptions): Promise<void>;
  /** Gets one item (waits for one). */
  get(options?: GetOptions): Promise<T>;
  /** Puts every item, or none if one cannot be serialized. */
  putMany(items: readonly T[], options?: PutManyOptions): Promise<void>;
  /** Gets at least one item and up to `maxItems`. */
  getMany(options?: GetManyOptions): Promise<T[]>;
  /** Closes this handle (other processes' handles keep working). */
  close(): void | Promise<void>;
  /** Whether this handle is closed. */
  readonly closed: boolean;
}

/**
 * A joinable queue's async surface: {@linkcode QueueLike} with `taskDone`
 * and `join`.
 *
 * @typeParam T The type of the items.
 *
 * @example Usage
 * ```ts
 * import { JoinableQueue, type JoinableQueueLike } from "@mp/queues";
 *
 * async function work(q: JoinableQueueLike<number>): Promise<void> {
 *   await q.get();
 *   await q.taskDone();
 * }
 * await using q = new JoinableQueue<number>();
 * await q.put(1);
 * await work(q);
 * await q.join();
 * ```
 */
export interface JoinableQueueLike<T> extends QueueLike<T> {
  /** Marks one item this handle got as done. */
  taskDone(): void | Promise<void>;
  /** Resolves once every item put has been marked done. */
  join(options?: JoinOptions): Promise<void>;
}

/**
 * The items of `get()` one by one, until it rejects with `ClosedError` (the
 * `for await` of every queue class).
 *
 * @internal
 */
export async function* untilClosed<T>(
  get: () => Promise<T>,
): AsyncGenerator<T, void, undefined> {
  for (;;) {
    try {
      yield await get();
    } catch (error) {
      if (error instanceof ClosedError) return;
      throw error;
    }
  }
}
