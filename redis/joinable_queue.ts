/**
 * `RedisJoinableQueue`: `JoinableQueue` in Redis, at least once: an item got
 * and not marked done within its lease is delivered again.
 *
 * @module
 */

import type { Codec } from "../queues/_codec.ts";
import type { JoinOptions } from "../queues/joinable_queue.ts";
import type { JoinableQueueLike } from "../queues/queue_like.ts";
import { deadlineOf } from "../queues/wait/_until.ts";
import { CONNECTED, connectRemote } from "./_connect.ts";
import type { Remote } from "./_remote.ts";
import { RedisQueue, type RedisQueueOptions } from "./queue.ts";

/**
 * Options of {@linkcode RedisJoinableQueue.connect}: those of
 * {@linkcode RedisQueueOptions}, and the lease and delivery limit.
 *
 * @example Usage
 * ```ts ignore
 * import {
 *   RedisJoinableQueue,
 *   type RedisJoinableQueueOptions,
 * } from "@mp/queues/redis";
 *
 * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
 * const options: RedisJoinableQueueOptions = { leaseMs: 5_000, maxDeliveries: 3 };
 * const q = await RedisJoinableQueue.connect<string>(url, "doc-joptions", options);
 * await q.destroy();
 * ```
 */
export interface RedisJoinableQueueOptions extends RedisQueueOptions {
  /**
   * How long an item got and not marked done stays with its holder before
   * it is delivered again, in ms (default 30,000). The lease is extended
   * while the holder is alive and connected.
   */
  leaseMs?: number;
  /**
   * How many times an item is delivered (default 5); an item whose lease
   * runs out after that moves to the stream `{mpq:<name>}:dead`.
   */
  maxDeliveries?: number;
}

/**
 * A {@linkcode RedisQueue} whose items are each marked done with
 * `taskDone()`, and whose `join()` waits until every item put has been.
 * Delivery is at least once: an item whose holder dies (or stays
 * disconnected) past `leaseMs` is delivered again, up to `maxDeliveries`
 * times, then moved to the dead-letter stream.
 *
 * @typeParam T The type of the items.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisJoinableQueue } from "@mp/queues/redis";
 * import { strictEqual } from "node:assert/strict";
 *
 * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
 * const q = await RedisJoinableQueue.connect<number>(url, "doc-joinable");
 * await q.putMany([1, 2]);
 * strictEqual(await q.get() + await q.get(), 3);
 * await q.taskDone();
 * await q.taskDone();
 * await q.join({ timeout: 1000 });
 * await q.destroy();
 * ```
 */
export class RedisJoinableQueue<T = unknown> extends RedisQueue<T>
  implements JoinableQueueLike<T> {
  /** The handle's server side. */
  readonly #remote: Remote;

  /**
   * Use {@linkcode RedisJoinableQueue.connect}.
   *
   * @param token Internal.
   * @param remote Internal.
   * @param codec Internal.
   */
  protected constructor(token: symbol, remote: Remote, codec: Codec) {
    super(token, remote, codec);
    this.#remote = remote;
  }

  /**
   * Connects to the joinable queue `name` at `url`, creating it with
   * `options` if it does not exist.
   *
   * @typeParam T The type of the items.
   * @param url The server (`redis://`, `rediss://` or `unix:///path`).
   * @param name The queue's name.
   * @param options The bound, serializer, lease and delivery limit.
   * @returns The connected handle.
   * @throws {TypeError} if the queue exists with other options or is not joinable
   *
   * @example Usage
   * ```ts ignore
   * import { RedisJoinableQueue } from "@mp/queues/redis";
   * import { strictEqual } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisJoinableQueue.connect<string>(url, "doc-jconnect", { leaseMs: 10_000 });
   * strictEqual(q.leaseMs, 10_000);
   * await q.destroy();
   * ```
   */
  static override async connect<T = unknown>(
    url: string,
    name: string,
    options?: RedisJoinableQueueOptions,
  ): Promise<RedisJoinableQueue<T>> {
    const { remote, codec } = await connectRemote(
      "joinable",
      url,
      name,
      options,
    );
    return new RedisJoinableQueue<T>(CONNECTED, remote, codec);
  }

  /** The lease of a got item in ms, as the queue was created. */
  get leaseMs(): number {
    return this.#remote.stored.leaseMs;
  }

  /** The most deliveries of an item, as the queue was created. */
  get maxDeliveries(): number {
    return this.#remote.stored.maxDeliveries;
  }

  /**
   * Marks the oldest item this handle got and has not marked yet as done.
   * Calls made in the same tick are sent together.
   *
   * @returns A promise that resolves once the server has it.
   * @throws {RangeError} if this handle holds no such item
   *
   * @example Usage
   * ```ts ignore
   * import { RedisJoinableQueue } from "@mp/queues/redis";
   * import { rejects } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisJoinableQueue.connect<number>(url, "doc-task-done");
   * await q.put(1);
   * await q.get();
   * await q.taskDone();
   * await rejects(q.taskDone(), RangeError);
   * await q.destroy();
   * ```
   */
  taskDone(): Promise<void> {
    try {
      return this.#remote.taskDone();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Waits until every item put (by any process) has been marked done, or
   * moved to the dead-letter stream.
   *
   * @param options `timeout` (ms) and `signal`.
   * @throws {DOMException} named `TimeoutError` when the timeout passes first
   *
   * @example Usage
   * ```ts ignore
   * import { RedisJoinableQueue } from "@mp/queues/redis";
   * import { rejects } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisJoinableQueue.connect<number>(url, "doc-join");
   * await q.put(1);
   * await rejects(q.join({ timeout: 50 }), { name: "TimeoutError" });
   * await q.destroy();
   * ```
   */
  async join(options?: JoinOptions): Promise<void> {
    const until = { deadline: deadlineOf(options), signal: options?.signal };
    if (!await this.#remote.join(until)) {
      throw new DOMException(
        "Cannot join: items were still not done at the timeout",
        "TimeoutError",
      );
    }
  }
}
