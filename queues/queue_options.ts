/**
 * The options of `Queue` and of its calls.
 *
 * @module
 */

import type { Serializer } from "./serializer.ts";

/**
 * Options of `Queue`.
 *
 * @example Usage
 * ```ts
 * import { bytes, Queue, type QueueOptions } from "@mp/queues";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const options: QueueOptions = { maxsize: 8, serializer: bytes };
 * await using q = new Queue<Uint8Array>(options);
 * strictEqual(q.maxsize, 8);
 * await q.put(new Uint8Array([1, 2]));
 * deepStrictEqual(await q.get(), new Uint8Array([1, 2]));
 * ```
 */
export interface QueueOptions {
  /** The most items the queue holds; `0` or less (the default) means unbounded. */
  maxsize?: number;
  /** How items become bytes; defaults to `msgpack` (`pickle` with `cpython`). */
  serializer?: Serializer;
  /**
   * Make the queue CPython's own mechanism (a pipe, named POSIX semaphores,
   * pickle payloads), so that unmodified CPython processes share it: hand
   * it to one with `spawnPython`. Its serializer is `pickle`.
   */
  cpython?: boolean;
}

/**
 * Options of `Queue.put`.
 *
 * @example Usage
 * ```ts
 * import { Full, Queue, type PutOptions } from "@mp/queues";
 * import { rejects } from "node:assert/strict";
 *
 * await using q = new Queue<string>({ maxsize: 1 });
 * q.putNowait("a");
 * const options: PutOptions = { timeout: 10 }; // wait up to 10 ms for a slot
 * await rejects(q.put("b", options), Full);
 * await rejects(q.put("b", { block: false }), Full);
 * await q.get();
 * ```
 */
export interface PutOptions {
  /** Wait for a free slot (default `true`); `false` ignores `timeout`. */
  block?: boolean;
  /** The longest wait in ms; absent or `Infinity` waits forever, `0` or less tries once. */
  timeout?: number;
  /** Aborts the wait; nothing is put. */
  signal?: AbortSignal;
}

/**
 * Options of `Queue.get`.
 *
 * @example Usage
 * ```ts
 * import { type GetOptions, Queue } from "@mp/queues";
 * import { rejects } from "node:assert/strict";
 *
 * await using q = new Queue<number>();
 * const controller = new AbortController();
 * const options: GetOptions = { signal: controller.signal };
 * const pending = q.get(options);
 * controller.abort();
 * await rejects(pending, { name: "AbortError" });
 * ```
 */
export interface GetOptions {
  /** Wait for an item (default `true`); `false` ignores `timeout`. */
  block?: boolean;
  /** The longest wait in ms; absent or `Infinity` waits forever, `0` or less tries once. */
  timeout?: number;
  /** Aborts the wait; no item is consumed. */
  signal?: AbortSignal;
}

/**
 * Options of `Queue.putMany`.
 *
 * @example Usage
 * ```ts
 * import { Full, Queue, type PutManyOptions } from "@mp/queues";
 * import { rejects, strictEqual } from "node:assert/strict";
 *
 * await using q = new Queue<number>({ maxsize: 2 });
 * const options: PutManyOptions = { timeout: 10 };
 * await rejects(q.putMany([1, 2, 3], options), Full);
 * strictEqual(q.qsize(), 2); // the items already put stay put
 * ```
 */
export interface PutManyOptions {
  /** The longest wait in ms for free slots. */
  timeout?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
}

/**
 * Options of `Queue.getMany`.
 *
 * @example Usage
 * ```ts
 * import { type GetManyOptions, Queue } from "@mp/queues";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * await using q = new Queue<string>();
 * await q.putMany(["a", "b", "c"]);
 * await q.joinThread();
 * const options: GetManyOptions = { maxItems: 2, timeout: 1000 };
 * deepStrictEqual(await q.getMany(options), ["a", "b"]);
 * deepStrictEqual(await q.getMany(options), ["c"]);
 * ```
 */
export interface GetManyOptions {
  /** The most items to return (default 1024). */
  maxItems?: number;
  /** Stop taking items once their serialized size reaches this many bytes (the item that crosses it is included). */
  maxBytes?: number;
  /** The longest wait in ms for the first item. */
  timeout?: number;
  /** Aborts the wait; no item is consumed. */
  signal?: AbortSignal;
}
