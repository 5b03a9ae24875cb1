/**
 * Python's `multiprocessing` queues for Deno, across real OS processes:
 * {@linkcode Queue}, {@linkcode SimpleQueue} and {@linkcode JoinableQueue} over
 * a pipe and a page of shared memory (through FFI to glibc), and
 * {@linkcode spawn} / {@linkcode workerArgs} to hand them to worker processes;
 * {@linkcode Pool}, Python's process pool, built on them; and, with
 * `{ cpython: true }` and {@linkcode spawnPython}, queues shared with
 * unmodified CPython processes.
 *
 * Needs `--allow-ffi` (and `--allow-run` to spawn workers); Linux with glibc.
 *
 * ```ts
 * import { Queue } from "@mp/queues";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * await using q = new Queue<{ id: number; tags: Set<string> }>();
 * await q.put({ id: 1, tags: new Set(["a"]) });
 * deepStrictEqual(await q.get(), { id: 1, tags: new Set(["a"]) });
 * ```
 *
 * @module
 */

export { Queue } from "./queues/queue.ts";
export type {
  GetManyOptions,
  GetOptions,
  PutManyOptions,
  PutOptions,
  QueueOptions,
} from "./queues/queue_options.ts";
export { SimpleQueue } from "./queues/simple_queue.ts";
export type { SimpleQueueOptions } from "./queues/simple_queue.ts";
export { JoinableQueue } from "./queues/joinable_queue.ts";
export type { JoinOptions } from "./queues/joinable_queue.ts";
export type { QueueStats } from "./queues/_transport.ts";
export type { JoinableQueueLike, QueueLike } from "./queues/queue_like.ts";
export {
  ClosedError,
  DeadlockError,
  Empty,
  Full,
  TasksLostError,
  WorkerExitError,
} from "./queues/errors.ts";
export { bytes, msgpack, registerSerializer } from "./queues/serializer.ts";
export { pickle } from "./queues/cpython/_pickle.ts";
export type { Serializer } from "./queues/serializer.ts";
export { spawn, workerArgs } from "./process/spawn.ts";
export type { SpawnOptions, WorkerProcess } from "./process/spawn.ts";
export { spawnPython } from "./process/spawn_python.ts";
export { Pool } from "./process/pool.ts";
export type {
  AnyFunction,
  MapOptions,
  PoolOptions,
  TaskArgs,
  TaskName,
  TaskResult,
} from "./process/pool.ts";
export type { SpawnPythonOptions } from "./process/spawn_python.ts";
