/**
 * `RedisSimpleQueue`: `SimpleQueue` in Redis.
 *
 * @module
 */

import type { Codec } from "../queues/_codec.ts";
import type { Serializer } from "../queues/serializer.ts";
import { CONNECTED, connectRemote } from "./_connect.ts";
import type { Remote } from "./_remote.ts";
import { RedisQueue } from "./queue.ts";

/**
 * Options of {@linkcode RedisSimpleQueue.connect}.
 *
 * @example Usage
 * ```ts ignore
 * import {
 *   bytes,
 *   RedisSimpleQueue,
 *   type RedisSimpleQueueOptions,
 * } from "@mp/queues/redis"; // the serializers without --allow-ffi
 *
 * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
 * const options: RedisSimpleQueueOptions = { serializer: bytes };
 * const q = await RedisSimpleQueue.connect<Uint8Array>(url, "doc-soptions", options);
 * await q.destroy();
 * ```
 */
export interface RedisSimpleQueueOptions {
  /** How items become bytes; defaults to `msgpack`. */
  serializer?: Serializer;
}

/**
 * `SimpleQueue` in Redis: a plain queue (at most once) created unbounded.
 * It is the same queue as {@linkcode RedisQueue} on the server, so the two
 * classes attach to each other's queues.
 *
 * @typeParam T The type of the items.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisSimpleQueue } from "@mp/queues/redis";
 * import { strictEqual } from "node:assert/strict";
 *
 * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
 * const q = await RedisSimpleQueue.connect<string>(url, "doc-simple");
 * await q.put("x");
 * strictEqual(await q.get(), "x");
 * await q.destroy();
 * ```
 */
export class RedisSimpleQueue<T = unknown> extends RedisQueue<T> {
  /**
   * Use {@linkcode RedisSimpleQueue.connect}.
   *
   * @param token Internal.
   * @param remote Internal.
   * @param codec Internal.
   */
  protected constructor(token: symbol, remote: Remote, codec: Codec) {
    super(token, remote, codec);
  }

  /**
   * Connects to the plain queue `name` at `url`, creating it unbounded if
   * it does not exist.
   *
   * @typeParam T The type of the items.
   * @param url The server (`redis://`, `rediss://` or `unix:///path`).
   * @param name The queue's name.
   * @param options The serializer.
   * @returns The connected handle.
   *
   * @example Usage
   * ```ts ignore
   * import { RedisSimpleQueue } from "@mp/queues/redis";
   *
   * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
   * await using q = await RedisSimpleQueue.connect<number>(url, "doc-sconnect");
   * await q.put(1);
   * await q.destroy();
   * ```
   */
  static override async connect<T = unknown>(
    url: string,
    name: string,
    options?: RedisSimpleQueueOptions,
  ): Promise<RedisSimpleQueue<T>> {
    const { remote, codec } = await connectRemote("queue", url, name, {
      serializer: options?.serializer,
    });
    return new RedisSimpleQueue<T>(CONNECTED, remote, codec);
  }
}
