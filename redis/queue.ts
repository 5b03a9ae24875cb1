/**
 * `RedisQueue`: the same queue as `Queue`, kept in Redis, so processes on
 * any number of machines share it by URL and name.
 *
 * @module
 */

import type { Codec } from "../queues/_codec.ts";
import { checkBatch, MAXSIZE_MAX } from "../queues/_options.ts";
import { Empty, Full } from "../queues/errors.ts";
import { type QueueLike, untilClosed } from "../queues/queue_like.ts";
import type {
  GetManyOptions,
  GetOptions,
  PutManyOptions,
  PutOptions,
} from "../queues/queue_options.ts";
import type { Serializer } from "../queues/serializer.ts";
import { deadlineOf, type Until } from "../queues/wait/_until.ts";
import { CONNECTED, connectRemote } from "./_connect.ts";
import type { Remote } from "./_remote.ts";

/**
 * Options of {@linkcode RedisQueue.connect}. Those given by the first
 * `connect` of a queue are stored with it; a later `connect` may leave them
 * out (it gets the stored ones) but may not differ.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisQueue, type RedisQueueOptions } from "@mp/queues/redis";
 * import { strictEqual } from "node:assert/strict";
 *
 * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
 * const options: RedisQueueOptions = { maxsize: 100 };
 * const q = await RedisQueue.connect<string>(url, "doc-options", options);
 * strictEqual(q.maxsize, 100);
 * await q.destroy();
 * ```
 */
export interface RedisQueueOptions {
  /** The most items the queue holds; `0` or less (the default) means unbounded. */
  maxsize?: number;
  /**
   * How items become bytes; defaults to `msgpack`. A custom serializer needs
   * a `name`, and every process must use (or register) the same one.
   */
  serializer?: Serializer;
}

/**
 * A multi-producer, multi-consumer FIFO queue in Redis: `Queue`'s API, with
 * the calls that are synchronous locally (`putNowait`, `getNowait`,
 * `qsize`, `empty`, `full`) returning promises. An item is removed when it
 * is got (at most once: see {@linkcode RedisJoinableQueue} for at least
 * once). `maxsize` is exact: each call is one atomic script.
 *
 * @typeParam T The type of the items.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisQueue } from "@mp/queues/redis";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
 * const q = await RedisQueue.connect<number[]>(url, "doc-queue", { maxsize: 10 });
 * await q.put([1, 2, 3]);
 * deepStrictEqual(await q.get(), [1, 2, 3]);
 * await q.destroy(); // deletes the queue's keys
 * ```
 */
export class RedisQueue<T = unknown> implements QueueLike<T> {
  /** The handle's server side. */
  readonly #remote: Remote;
  readonly #codec: Codec;
  /**
   * Items got and decoded, not handed out yet (after a failure beside
   * them), with their payloads (given back at `close()`).
   */
  #pending: { item: T; payload: Uint8Array }[] = [];

  /**
   * Use {@linkcode RedisQueue.connect}.
   *
   * @param token Internal.
   * @param remote Internal.
   * @param codec Internal.
   */
  protected constructor(token: symbol, remote: Remote, codec: Codec) {
    if (token !== CONNECTED) {
      throw new TypeError(
        "Cannot construct a RedisQueue: use RedisQueue.connect()",
      );
    }
    this.#remote = remote;
    this.#codec = codec;
  }

  /**
   * Connects to the queue `name` on the Redis server at `url` (`redis://`,
   * `rediss://` or `unix:///path/to/socket`), creating it with `options` if
   * it does not exist.
   *
   * @typeParam T The type of the items.
   * @param url The server.
   * @param name The queue's name: every process that uses it shares it.
   * @param options The size bound and the serializer.
   * @returns The connected handle.
   * @throws {TypeError} if the queue exists with other options or is joinable
   * @throws {Deno.errors.ConnectionRefused} if the server cannot be reached
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { strictEqual } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * await using a = await RedisQueue.connect<string>(url, "doc-connect");
   * await using b = await RedisQueue.connect<string>(url, "doc-connect");
   * await a.put("hello");
   * strictEqual(await b.get(), "hello");
   * await a.destroy();
   * ```
   */
  static async connect<T = unknown>(
    url: string,
    name: string,
    options?: RedisQueueOptions,
  ): Promise<RedisQueue<T>> {
    const { remote, codec } = await connectRemote("queue", url, name, options);
    return new RedisQueue<T>(CONNECTED, remote, codec);
  }

  /** The queue's name. */
  get name(): string {
    return this.#remote.name;
  }

  /** The bound the queue was created with (0 when unbounded). */
  get maxsize(): number {
    return this.#remote.stored.maxsize;
  }

  /** Whether this handle is closed. */
  get closed(): boolean {
    return this.#remote.closed;
  }

  /** The limits of a call. */
  #until(
    options:
      | { block?: boolean; timeout?: number; signal?: AbortSignal }
      | undefined,
  ): Until {
    return { deadline: deadlineOf(options), signal: options?.signal };
  }

  /** Serializes items (all before any is sent). */
  #encode(items: readonly T[]): Uint8Array[] {
    return items.map((item) => this.#codec.encode(item));
  }

  /**
   * Puts an item, waiting while the queue is full (with a bound).
   *
   * @param item The item; serialized at once.
   * @param options `block`, `timeout` (ms) and `signal`.
   * @throws {Full} if the queue stayed full until the timeout
   * @throws {TypeError} if the item cannot be serialized (nothing is put)
   * @throws {ClosedError} if this handle is closed
   *
   * @example Usage
   * ```ts ignore
   * import { Full, RedisQueue } from "@mp/queues/redis";
   * import { rejects } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<string>(url, "doc-put", { maxsize: 1 });
   * await q.put("a");
   * await rejects(q.put("b", { timeout: 50 }), Full);
   * await q.destroy();
   * ```
   */
  async put(item: T, options?: PutOptions): Promise<void> {
    const until = this.#until(options);
    const payloads = this.#encode([item]);
    if (await this.#remote.put(payloads, until) < 1) {
      throw new Full("Queue is full");
    }
  }

  /**
   * Puts an item if there is room at once.
   *
   * @param item The item.
   * @throws {Full} if the queue is full
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { strictEqual } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-put-nowait");
   * await q.putNowait(1);
   * strictEqual(await q.qsize(), 1);
   * await q.destroy();
   * ```
   */
  putNowait(item: T): Promise<void> {
    return this.put(item, { block: false });
  }

  /**
   * Puts every item, in order, in one round trip when there is room (with a
   * bound, as room frees up). One item that cannot be serialized rejects
   * the call before anything is put.
   *
   * @param items The items.
   * @param options `timeout` (ms) and `signal`.
   * @throws {Full} if the timeout passed first (the items already put stay put)
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-put-many");
   * await q.putMany([1, 2, 3]);
   * deepStrictEqual(await q.getMany(), [1, 2, 3]);
   * await q.destroy();
   * ```
   */
  async putMany(items: readonly T[], options?: PutManyOptions): Promise<void> {
    const until = this.#until(options);
    if (!Array.isArray(items)) {
      throw new TypeError(
        `Cannot put many: items must be an array, received ${typeof items}`,
      );
    }
    const payloads = this.#encode(items);
    if (payloads.length === 0) return;
    const put = await this.#remote.put(payloads, until);
    if (put < payloads.length) {
      throw new Full(
        `Queue is full: ${put} of ${payloads.length} items were put`,
      );
    }
  }

  /**
   * Gets an item, waiting for one.
   *
   * @param options `block`, `timeout` (ms) and `signal`.
   * @returns The oldest item.
   * @throws {Empty} if no item came before the timeout
   * @throws {ClosedError} if this handle is closed (or the queue destroyed)
   *
   * @example Usage
   * ```ts ignore
   * import { Empty, RedisQueue } from "@mp/queues/redis";
   * import { rejects } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-get");
   * await rejects(q.get({ timeout: 50 }), Empty);
   * await q.destroy();
   * ```
   */
  async get(options?: GetOptions): Promise<T> {
    const until = this.#until(options);
    this.#remote.checkOpen("get");
    if (this.#pending.length > 0) {
      until.signal?.throwIfAborted();
      return this.#pending.shift()!.item;
    }
    const [item] = await this.#take(1, Infinity, until);
    return item;
  }

  /**
   * Gets an item if one is there at once.
   *
   * @returns The oldest item.
   * @throws {Empty} if the queue is empty
   *
   * @example Usage
   * ```ts ignore
   * import { Empty, RedisQueue } from "@mp/queues/redis";
   * import { rejects } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-get-nowait");
   * await rejects(q.getNowait(), Empty);
   * await q.destroy();
   * ```
   */
  getNowait(): Promise<T> {
    return this.get({ block: false });
  }

  /**
   * Waits for at least one item, then takes up to `maxItems` (default 1024)
   * and `maxBytes` in one round trip.
   *
   * @param options `maxItems`, `maxBytes`, `timeout` (ms) and `signal`.
   * @returns One item or more, oldest first.
   * @throws {Empty} if no item came before the timeout
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<string>(url, "doc-get-many");
   * await q.putMany(["a", "b", "c"]);
   * deepStrictEqual(await q.getMany({ maxItems: 2 }), ["a", "b"]);
   * deepStrictEqual(await q.getMany(), ["c"]);
   * await q.destroy();
   * ```
   */
  async getMany(options?: GetManyOptions): Promise<T[]> {
    const until = this.#until(options);
    const { maxItems, maxBytes } = checkBatch(options);
    // The server takes counts up to 2^31−1 (a local queue has no such bound).
    if (maxItems > MAXSIZE_MAX) {
      throw new RangeError(
        `MaxItems must be an integer from 1 to ${MAXSIZE_MAX}, got ${maxItems}`,
      );
    }
    this.#remote.checkOpen("get");
    if (this.#pending.length > 0) {
      until.signal?.throwIfAborted();
      return this.#pending.splice(0, maxItems).map((p) => p.item);
    }
    return await this.#take(maxItems, maxBytes, until);
  }

  /**
   * Takes items from the server and decodes them. An item that cannot be
   * decoded goes to the dead-letter stream and its error rejects the call;
   * the items decoded beside it are kept for the next call.
   */
  async #take(maxItems: number, maxBytes: number, until: Until): Promise<T[]> {
    const got = await this.#remote.get(maxItems, maxBytes, until);
    if (got === undefined) throw new Empty("Queue is empty");
    this.#remote.hold(got.groups);
    const items: T[] = [];
    let failure: { error: unknown } | null = null;
    const badAt: number[] = [];
    const goodAt: number[] = [];
    for (const [i, payload] of got.payloads.entries()) {
      try {
        items.push(this.#codec.decode(payload, false) as T);
        goodAt.push(i);
      } catch (error) {
        failure ??= { error };
        badAt.push(i);
      }
    }
    if (failure === null) return items;
    // Each bad payload's batch and its position there (plain queues: none).
    const place = got.groups.flatMap(([batch, n]) =>
      Array.from({ length: n }, (_, index) => ({ batch, index }))
    );
    await this.#remote.bury(
      badAt.map((i) => ({
        ...(place[i] ?? { batch: "", index: 0 }),
        payload: got.payloads[i],
      })),
      String((failure.error as Error)?.message ?? failure.error),
    );
    items.forEach((item, j) =>
      this.#pending.push({ item, payload: got.payloads[goodAt[j]] })
    );
    throw failure.error;
  }

  /**
   * The number of items ready to get (exact when read).
   *
   * @returns The count.
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { strictEqual } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-qsize");
   * await q.putMany([1, 2]);
   * strictEqual(await q.qsize(), 2);
   * await q.destroy();
   * ```
   */
  async qsize(): Promise<number> {
    return await this.#remote.size() + this.#pending.length;
  }

  /**
   * Whether the queue is empty.
   *
   * @returns `qsize() === 0`.
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { ok } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-empty");
   * ok(await q.empty());
   * await q.destroy();
   * ```
   */
  async empty(): Promise<boolean> {
    return await this.qsize() === 0;
  }

  /**
   * Whether the queue is full (never when unbounded).
   *
   * @returns `qsize() >= maxsize` with a bound.
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { ok } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-full", { maxsize: 1 });
   * await q.put(1);
   * ok(await q.full());
   * await q.destroy();
   * ```
   */
  async full(): Promise<boolean> {
    return this.maxsize > 0 && await this.#remote.size() >= this.maxsize;
  }

  /**
   * Closes this handle: its pending calls reject with `ClosedError`, and the
   * connection is dropped once no handle of this process uses it. The queue
   * stays on the server for the other handles (see `destroy()`). A second
   * call does nothing.
   *
   * @returns A promise that resolves once the handle is let go.
   *
   * @example Usage
   * ```ts ignore
   * import { ClosedError, RedisQueue } from "@mp/queues/redis";
   * import { ok, rejects } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-close");
   * const pending = rejects(q.get(), ClosedError); // a get waiting
   * await q.close();
   * ok(q.closed);
   * await pending;
   * const again = await RedisQueue.connect<number>(url, "doc-close");
   * await again.destroy(); // the queue stayed until now
   * ```
   */
  close(): Promise<void> {
    // A plain queue's items got and not handed out go back; a joinable
    // queue's are in the batches it gives back.
    const unhanded = this.#remote.stored.kind === "queue"
      ? this.#pending.map((p) => p.payload)
      : [];
    this.#pending = [];
    return this.#remote.close(unhanded);
  }

  /**
   * Deletes the queue from the server (every key, the dead-letter stream
   * too) and closes this handle. Waits of other handles end with
   * `ClosedError`.
   *
   * @returns A promise that resolves once the keys are gone.
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-destroy");
   * await q.put(1);
   * await q.destroy();
   * ```
   */
  destroy(): Promise<void> {
    return this.#remote.destroy();
  }

  /**
   * Gets items one by one until this handle is closed (or the queue
   * destroyed).
   *
   * @returns An async iterator of the items.
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * const q = await RedisQueue.connect<number>(url, "doc-iterate");
   * await q.putMany([1, 2]);
   * const seen: number[] = [];
   * for await (const x of q) {
   *   seen.push(x);
   *   if (seen.length === 2) await q.destroy();
   * }
   * deepStrictEqual(seen, [1, 2]);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return untilClosed(() => this.get());
  }

  /**
   * `close()` (for `await using`).
   *
   * @returns A promise that resolves once the handle is let go.
   *
   * @example Usage
   * ```ts ignore
   * import { RedisQueue } from "@mp/queues/redis";
   * import { strictEqual } from "node:assert/strict";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * {
   *   await using q = await RedisQueue.connect<number>(url, "doc-dispose");
   *   await q.put(1);
   * } // closed here; the queue and its item stay on the server
   * const again = await RedisQueue.connect<number>(url, "doc-dispose");
   * strictEqual(await again.get(), 1);
   * await again.destroy();
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
