/**
 * `@mp/queues/redis`: the queues of `@mp/queues` kept in Redis (6.2+ or
 * Valkey), so processes on any number of machines share them by URL and
 * name. {@linkcode RedisQueue}, {@linkcode RedisSimpleQueue} and
 * {@linkcode RedisJoinableQueue} implement the same `QueueLike` /
 * `JoinableQueueLike` surface as the local queues: code written against it
 * moves from one machine to many by changing how the queue is made.
 *
 * Needs `--allow-net` (also for a unix socket) and
 * `--allow-env=REDIS_DEBUG_MAINTENANCE` (read by the `redis` client).
 *
 * ```ts ignore
 * import { RedisJoinableQueue } from "@mp/queues/redis";
 *
 * const url = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
 * await using q = await RedisJoinableQueue.connect<string>(url, "jobs");
 * await q.put("resize cat.png");
 * console.log(await q.get());
 * await q.taskDone();
 * await q.join();
 * await q.destroy(); // deletes the queue from the server
 * ```
 *
 * @module
 */

export { RedisQueue } from "./queue.ts";
export type { RedisQueueOptions } from "./queue.ts";
export { RedisSimpleQueue } from "./simple_queue.ts";
export type { RedisSimpleQueueOptions } from "./simple_queue.ts";
export { RedisJoinableQueue } from "./joinable_queue.ts";
export type { RedisJoinableQueueOptions } from "./joinable_queue.ts";
export { ClosedError, Empty, Full } from "../queues/errors.ts";
export { bytes, msgpack, registerSerializer } from "../queues/serializer.ts";
export type { Serializer } from "../queues/serializer.ts";
export type { JoinableQueueLike, QueueLike } from "../queues/queue_like.ts";
