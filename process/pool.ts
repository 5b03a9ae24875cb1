/**
 * `Pool`: Python's `multiprocessing.Pool` for Deno, built on the queues:
 * worker processes that run the exported functions of a task module.
 *
 * @module
 */

import { ClosedError, WorkerExitError } from "../queues/errors.ts";
import { Queue } from "../queues/queue.ts";
import { spawn, type WorkerProcess } from "./spawn.ts";

/**
 * Any function: what a task module exports as tasks.
 *
 * @example Usage
 * ```ts
 * import type { AnyFunction } from "@mp/queues";
 *
 * const tasks: Record<string, AnyFunction> = { square: (n: number) => n * n };
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AnyFunction = (...args: any[]) => unknown;

/**
 * The names of the function exports of a task module `M`.
 *
 * @example Usage
 * ```ts
 * import type { TaskArgs, TaskName, TaskResult } from "@mp/queues";
 *
 * type Tasks = { square(n: number): number; limit: number };
 * const name: TaskName<Tasks> = "square"; // "limit" is not a task
 * const args: TaskArgs<Tasks, "square"> = [3];
 * const result: TaskResult<Tasks, "square"> = 9;
 * ```
 */
export type TaskName<M> =
  & {
    [K in keyof M]: M[K] extends AnyFunction ? K : never;
  }[keyof M]
  & string;

/**
 * The parameters of task `K` of module `M` (see {@linkcode TaskName}).
 *
 * @example Usage
 * ```ts
 * import type { TaskArgs } from "@mp/queues";
 *
 * const args: TaskArgs<{ add(a: number, b: number): number }, "add"> = [1, 2];
 * ```
 */
export type TaskArgs<M, K extends TaskName<M>> = M[K] extends
  (...args: infer A) => unknown ? A : never;

/**
 * What task `K` of module `M` resolves to (see {@linkcode TaskName}).
 *
 * @example Usage
 * ```ts
 * import type { TaskResult } from "@mp/queues";
 *
 * const r: TaskResult<{ load(): Promise<string> }, "load"> = "awaited";
 * ```
 */
export type TaskResult<M, K extends TaskName<M>> = M[K] extends
  (...args: never[]) => infer R ? Awaited<R> : never;

/**
 * Options of {@linkcode Pool}.
 *
 * @example Usage
 * ```ts
 * import { Pool, type PoolOptions } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * const tasks = "data:application/typescript,export const hello = () => Deno.env.get('WHO');";
 * const options: PoolOptions = { processes: 1, env: { WHO: "pool" }, permissions: ["--allow-env=WHO"] };
 * await using pool = new Pool<{ hello(): string | undefined }>(tasks, options);
 * strictEqual(await pool.apply("hello", []), "pool");
 * ```
 */
export interface PoolOptions {
  /** How many worker processes (default `navigator.hardwareConcurrency`). */
  processes?: number;
  /** The name of an export each worker runs once, before any task. */
  initializer?: string;
  /** The initializer's arguments. */
  initArgs?: unknown[];
  /** Replace a worker after it ran this many tasks (chunks); default: never. */
  maxTasksPerChild?: number;
  /** Extra `deno run` flags of the workers, e.g. `["--allow-read=/data"]`. */
  permissions?: string[];
  /** The workers' working directory. */
  cwd?: string;
  /** Extra environment variables of the workers. */
  env?: Record<string, string>;
}

/**
 * Options of {@linkcode Pool.map} and {@linkcode Pool.starmap}.
 *
 * @example Usage
 * ```ts
 * import type { MapOptions } from "@mp/queues";
 *
 * const options: MapOptions = { chunkSize: 100, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface MapOptions {
  /**
   * Items per task sent to a worker; by default, as CPython: the items
   * divided by 4 × the workers, rounded up (1 for `imap`).
   */
  chunkSize?: number;
  /** Aborts the call: tasks not yet started are dropped; running ones finish. */
  signal?: AbortSignal;
}

/** A message of a worker (see process/_pool_worker.ts). */
type PoolMessage =
  | ["ready", number, number]
  | ["init-error", number, unknown]
  | ["done", number, number, unknown[]]
  | ["error", number, number, number, unknown];

/**
 * A task as a worker receives it: id, function name, the items, and whether
 * each item is an argument list (else the one argument); or the ids of
 * tasks sent and no longer wanted; or a stop (null).
 */
type Task =
  | [number, string, unknown[], boolean]
  | ["cancel", number[]]
  | null;

/** One call's view of its chunks finishing. */
interface Job {
  /** A chunk ran; `results` are those of its items. */
  done(chunk: Chunk, results: unknown[]): void;
  /** Item `index` of a chunk failed (or the worker died: index 0). */
  failed(chunk: Chunk | null, error: unknown): void;
  /** Whether the call no longer wants results (aborted, failed, left). */
  readonly over: boolean;
}

/** Items of one call sent to a worker together. */
interface Chunk {
  readonly id: number;
  readonly name: string;
  /** The items: one argument each, or (`spread`) argument lists. */
  readonly args: unknown[];
  readonly spread: boolean;
  /** The index of the chunk's first item in its call. */
  readonly offset: number;
  readonly job: Job;
}

/** One worker process of the pool. */
interface Slot {
  readonly index: number;
  readonly process: WorkerProcess;
  readonly inbox: Queue<Task>;
  /** The chunks sent to it and not answered, by id. */
  readonly held: Map<number, Chunk>;
  /** The module loaded and the initializer ran. */
  ready: boolean;
  /** Tasks (chunks) sent to it, ever. */
  sent: number;
  /** A stop was sent (retiring after `maxTasksPerChild`, or the pool closing). */
  stopping: boolean;
}

/** Chunks a worker may hold at once (one running, the next one waiting). */
const PREFETCH = 2;

/** The default worker count. */
function defaultProcesses(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * A pool of worker processes that run the exported functions of a task
 * module: Python's `multiprocessing.Pool`. Tasks and results cross by the
 * queues (msgpack): the same rules and `TypeError`s as `put`. A task that
 * throws rejects its call with an error of the same class, with the
 * worker's stack and a `cause` saying which task; a worker that dies fails
 * only the task it was running (with a {@linkcode WorkerExitError}; tasks
 * sent to it and not started go to another worker) and is replaced; a module that fails to load, or an initializer that throws,
 * rejects every call with that error.
 *
 * @typeParam M The task module's type: `typeof import("./tasks.ts")`.
 *
 * @example Usage
 * ```ts
 * import { Pool } from "@mp/queues";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const tasks = "data:application/typescript,export function square(n: number) { return n * n; }";
 * await using pool = new Pool<{ square(n: number): number }>(tasks, { processes: 2 });
 * deepStrictEqual(await pool.map("square", [1, 2, 3, 4]), [1, 4, 9, 16]);
 * ```
 */
export class Pool<M = Record<string, AnyFunction>> implements AsyncDisposable {
  readonly #module: string;
  readonly #options: PoolOptions;
  readonly #size: number;
  readonly #results = new Queue<PoolMessage>();
  readonly #slots: (Slot | null)[];
  /** Chunks not yet sent to a worker, in order. */
  readonly #pending: Chunk[] = [];
  #nextId = 0;
  #state: "open" | "closed" | "terminated" = "open";
  /** A worker has loaded the module and run the initializer, ever. */
  #loaded = false;
  /** Why every call fails: the module or the initializer failed. */
  #broken: { error: unknown } | null = null;
  /** The loop that reads the workers' messages. */
  readonly #reading: Promise<void>;
  /** Workers starting or running (their exits are awaited by `join`). */
  readonly #alive = new Set<Promise<unknown>>();
  /**
   * The workers' entry module: it imports the task module by a literal
   * specifier (no read permission needed; a failure to load is reported).
   */
  readonly #entry: string;

  /**
   * Starts the workers: `processes` of `deno run --allow-ffi <permissions>`.
   *
   * @param module The task module: a URL, or a path resolved against the current directory.
   * @param options Worker count, initializer, `maxTasksPerChild`, permissions, cwd, env.
   * @throws {RangeError} for a `processes` or `maxTasksPerChild` that is not a positive integer.
   */
  constructor(module: string | URL, options?: PoolOptions) {
    this.#module = resolveModule(module);
    this.#options = options ?? {};
    const size = options?.processes ?? defaultProcesses();
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot create a pool: processes must be a positive integer, received ${size}`,
      );
    }
    const max = options?.maxTasksPerChild;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new RangeError(
        `Cannot create a pool: maxTasksPerChild must be a positive integer, received ${max}`,
      );
    }
    this.#size = size;
    this.#entry = "data:application/typescript," + encodeURIComponent(
      `import { runPoolWorker } from ${
        JSON.stringify(new URL("./_pool_worker.ts", import.meta.url).href)
      };\nawait runPoolWorker(() => import(${
        JSON.stringify(this.#module)
      }));\n`,
    );
    this.#slots = new Array(size).fill(null);
    try {
      for (let i = 0; i < size; i++) this.#start(i);
    } catch (e) {
      // (args that cannot cross, a cwd that does not exist): nothing stays
      for (const slot of this.#slots) {
        slot?.inbox.cancelJoinThread();
        slot?.inbox.close();
        slot?.process.kill("SIGKILL");
      }
      this.#results.close();
      throw e;
    }
    this.#reading = this.#read();
  }

  /**
   * Runs task `name` with `args` in a worker.
   *
   * @returns what the task returned (awaited)
   *
   * @example Usage
   * ```ts
   * import { Pool } from "@mp/queues";
   * import { strictEqual } from "node:assert/strict";
   *
   * const tasks = "data:application/typescript,export const add = (a: number, b: number) => a + b;";
   * await using pool = new Pool<{ add(a: number, b: number): number }>(tasks, { processes: 1 });
   * strictEqual(await pool.apply("add", [2, 3]), 5);
   * ```
   */
  apply<K extends TaskName<M>>(
    name: K,
    args: TaskArgs<M, K>,
  ): Promise<TaskResult<M, K>> {
    return this.starmap(name, [args], { chunkSize: 1 }).then((r) => r[0]);
  }

  /**
   * Runs task `name` on each item (as its one argument), in chunks spread
   * over the workers.
   *
   * @returns the results in the order of `items`; the first task that
   *   throws rejects the whole call
   *
   * @example Usage
   * ```ts
   * import { Pool } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const tasks = "data:application/typescript,export const double = (n: number) => 2 * n;";
   * await using pool = new Pool<{ double(n: number): number }>(tasks, { processes: 2 });
   * deepStrictEqual(await pool.map("double", [1, 2, 3], { chunkSize: 2 }), [2, 4, 6]);
   * ```
   */
  map<K extends TaskName<M>>(
    name: K,
    items: Iterable<TaskArgs<M, K>[0]>,
    options?: MapOptions,
  ): Promise<TaskResult<M, K>[]> {
    return this.#run(name, listOf(items), false, options) as Promise<
      TaskResult<M, K>[]
    >;
  }

  /**
   * Like {@linkcode Pool.map}, but each item is the argument list of one
   * task: Python's `starmap`.
   *
   * @returns the results in the order of `items`
   *
   * @example Usage
   * ```ts
   * import { Pool } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const tasks = "data:application/typescript,export const add = (a: number, b: number) => a + b;";
   * await using pool = new Pool<{ add(a: number, b: number): number }>(tasks, { processes: 1 });
   * deepStrictEqual(await pool.starmap("add", [[1, 2], [3, 4]]), [3, 7]);
   * ```
   */
  starmap<K extends TaskName<M>>(
    name: K,
    items: Iterable<TaskArgs<M, K>>,
    options?: MapOptions,
  ): Promise<TaskResult<M, K>[]> {
    return this.#run(name, listOf(items), true, options) as Promise<
      TaskResult<M, K>[]
    >;
  }

  /** Runs `args` in chunks: `map` (one argument each) or `starmap` (`spread`). */
  #run(
    name: string,
    args: readonly unknown[],
    spread: boolean,
    options: MapOptions | undefined,
  ): Promise<unknown[]> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown[]>();
    const signal = options?.signal;
    /** The results of each chunk, by chunk number (joined at the end). */
    const parts: unknown[][] = [];
    let size = 1;
    let left = 0;
    let over = false;
    const onAbort = () => job.failed(null, signal!.reason);
    const finish = () => {
      over = true;
      signal?.removeEventListener("abort", onAbort);
      this.#dropPending(job);
    };
    const job: Job = {
      done: (chunk, results) => {
        if (over) return;
        parts[chunk.offset / size] = results;
        if (--left === 0) {
          finish();
          resolve(
            parts.length === 1 ? parts[0] : ([] as unknown[]).concat(...parts),
          );
        }
      },
      failed: (_chunk, error) => {
        if (over) return;
        finish();
        reject(error);
      },
      get over() {
        return over;
      },
    };
    try {
      this.#check();
      signal?.throwIfAborted();
      size = chunkSizeOf(options?.chunkSize, args.length, this.#size);
      if (args.length === 0) {
        over = true;
        resolve([]);
        return promise;
      }
      left = Math.ceil(args.length / size);
      signal?.addEventListener("abort", onAbort, { once: true });
      for (let i = 0; i < args.length; i += size) {
        this.#pending.push({
          id: this.#nextId++,
          name,
          args: args.slice(i, i + size),
          spread,
          offset: i,
          job,
        });
      }
      this.#pump();
    } catch (e) {
      over = true;
      reject(e);
    }
    return promise;
  }

  /**
   * Runs task `name` on each item and yields the results in the order of
   * `items`, as they become ready. A task that throws makes that step
   * throw. Leaving the loop early drops the tasks not yet started.
   *
   * @example Usage
   * ```ts
   * import { Pool } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const tasks = "data:application/typescript,export const inc = (n: number) => n + 1;";
   * await using pool = new Pool<{ inc(n: number): number }>(tasks, { processes: 2 });
   * const got: number[] = [];
   * for await (const r of pool.imap("inc", [1, 2, 3])) got.push(r);
   * deepStrictEqual(got, [2, 3, 4]);
   * ```
   */
  imap<K extends TaskName<M>>(
    name: K,
    items: Iterable<TaskArgs<M, K>[0]>,
    options?: MapOptions,
  ): AsyncIterableIterator<TaskResult<M, K>> {
    return this.#iterate(name, items, options, true);
  }

  /**
   * Like {@linkcode Pool.imap}, but yields each result as soon as it is
   * ready, in any order.
   *
   * @example Usage
   * ```ts
   * import { Pool } from "@mp/queues";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const tasks = "data:application/typescript,export const inc = (n: number) => n + 1;";
   * await using pool = new Pool<{ inc(n: number): number }>(tasks, { processes: 2 });
   * const got: number[] = [];
   * for await (const r of pool.imapUnordered("inc", [1, 2, 3])) got.push(r);
   * deepStrictEqual(got.sort(), [2, 3, 4]);
   * ```
   */
  imapUnordered<K extends TaskName<M>>(
    name: K,
    items: Iterable<TaskArgs<M, K>[0]>,
    options?: MapOptions,
  ): AsyncIterableIterator<TaskResult<M, K>> {
    return this.#iterate(name, items, options, false);
  }

  /**
   * Takes no new tasks; the workers stop once the tasks already given are
   * done (see {@linkcode Pool.join}).
   *
   * @example Usage
   * ```ts
   * import { Pool } from "@mp/queues";
   * import { rejects } from "node:assert/strict";
   *
   * const tasks = "data:application/typescript,export const id = (x: unknown) => x;";
   * const pool = new Pool<{ id(x: unknown): unknown }>(tasks, { processes: 1 });
   * pool.close();
   * await rejects(pool.apply("id", [1]), Error);
   * await pool.join();
   * ```
   */
  close(): void {
    if (this.#state !== "open") return;
    this.#state = "closed";
    this.#pump();
  }

  /**
   * After {@linkcode Pool.close} or {@linkcode Pool.terminate}: resolves
   * once every worker has exited.
   *
   * @throws {Error} (rejects) if the pool is still open.
   */
  async join(): Promise<void> {
    if (this.#state === "open") {
      throw new Error("Cannot join an open pool: call close() first");
    }
    while (this.#alive.size > 0) await Promise.allSettled([...this.#alive]);
    this.#results.close();
    await this.#reading;
  }

  /**
   * Kills the workers now (`SIGKILL`); tasks not finished reject with an
   * `Error` saying the pool was terminated.
   */
  terminate(): void {
    if (this.#state === "terminated") return;
    this.#state = "terminated";
    const error = new Error("Cannot finish the task: the pool was terminated");
    for (const chunk of this.#pending.splice(0)) chunk.job.failed(chunk, error);
    for (const slot of this.#slots) {
      if (slot === null) continue;
      for (const chunk of slot.held.values()) chunk.job.failed(chunk, error);
      slot.held.clear();
      slot.stopping = true;
      slot.process.kill("SIGKILL");
    }
  }

  /** `close()` and `join()` if no task is left, else `terminate()` first. */
  async [Symbol.asyncDispose](): Promise<void> {
    const busy = this.#pending.length > 0 ||
      this.#slots.some((s) => s !== null && s.held.size > 0);
    if (busy) this.terminate();
    else this.close();
    await this.join();
  }

  /** Throws unless the pool takes tasks. */
  #check(): void {
    if (this.#broken !== null) throw this.#broken.error;
    if (this.#state !== "open") {
      throw new Error(
        `Cannot run a task: the pool is ${
          this.#state === "closed" ? "closed" : "terminated"
        }`,
      );
    }
  }

  /** Starts the worker of slot `index`. */
  #start(index: number): void {
    const inbox = new Queue<Task>();
    const options = this.#options;
    let process: WorkerProcess;
    try {
      process = spawn(this.#entry, {
        args: [
          inbox,
          this.#results,
          index,
          this.#module,
          options.initializer ?? null,
          options.initArgs ?? [],
        ],
        permissions: options.permissions,
        cwd: options.cwd,
        env: options.env,
      });
    } catch (e) {
      inbox.close();
      throw e;
    }
    const slot: Slot = {
      index,
      process,
      inbox,
      held: new Map(),
      ready: false,
      sent: 0,
      stopping: false,
    };
    this.#slots[index] = slot;
    const exited = process.status.then((status) => this.#exited(slot, status));
    this.#alive.add(exited);
    exited.finally(() => this.#alive.delete(exited));
  }

  /** Sends pending chunks to workers with room, and stops idle ones when closing. */
  #pump(): void {
    const max = this.#options.maxTasksPerChild ?? Infinity;
    while (this.#pending.length > 0) {
      let best: Slot | null = null;
      for (const slot of this.#slots) {
        if (
          slot === null || !slot.ready || slot.stopping ||
          slot.held.size >= PREFETCH || slot.sent >= max
        ) continue;
        if (best === null || slot.held.size < best.held.size) best = slot;
      }
      if (best === null) break;
      const chunk = this.#pending.shift()!;
      if (chunk.job.over) continue;
      best.held.set(chunk.id, chunk);
      best.sent++;
      const task: Task = [chunk.id, chunk.name, chunk.args, chunk.spread];
      best.inbox.put(task).catch((e) => {
        best.held.delete(chunk.id);
        chunk.job.failed(chunk, e);
        this.#pump(); // the worker may be idle now (a stop to send)
      });
    }
    for (const slot of this.#slots) {
      if (slot === null || slot.stopping || slot.held.size > 0) continue;
      const retiring = slot.sent >= max;
      const closing = this.#state !== "open" && this.#pending.length === 0;
      if ((slot.ready || this.#broken !== null) && (retiring || closing)) {
        slot.stopping = true;
        slot.inbox.put(null).catch(() => {});
      }
    }
  }

  /** Drops the chunks of `job` not yet sent to a worker. */
  #dropPending(job: Job): void {
    const pending = this.#pending;
    let j = 0;
    for (let i = 0; i < pending.length; i++) {
      if (pending[i].job !== job) pending[j++] = pending[i];
    }
    pending.length = j;
    // Chunks sent ahead to a worker and not started (all but the oldest it
    // holds) are called back: it drops them before it would start them.
    for (const slot of this.#slots) {
      if (slot === null || slot.held.size < 2) continue;
      const ids: number[] = [];
      let first = true;
      for (const chunk of slot.held.values()) {
        if (!first && chunk.job === job) ids.push(chunk.id);
        first = false;
      }
      if (ids.length === 0) continue;
      for (const id of ids) slot.held.delete(id);
      slot.inbox.put(["cancel", ids]).catch(() => {});
    }
  }

  /** Reads the workers' messages until the results queue is closed. */
  async #read(): Promise<void> {
    for (;;) {
      let message: PoolMessage;
      try {
        message = await this.#results.get();
      } catch (e) {
        if (e instanceof ClosedError) return; // closed by join()
        continue; // a message that could not be read: the others still count
      }
      this.#handle(message);
    }
  }

  /** Acts on one message of a worker. */
  #handle(message: PoolMessage): void {
    const slot = this.#slots[message[1]];
    if (slot === null) return;
    switch (message[0]) {
      case "ready":
        slot.ready = true;
        this.#loaded = true;
        break;
      case "init-error":
        this.#break(message[2]);
        break;
      case "done": {
        const chunk = slot.held.get(message[2]);
        if (chunk === undefined) break;
        slot.held.delete(chunk.id);
        chunk.job.done(chunk, message[3]);
        break;
      }
      case "error": {
        const chunk = slot.held.get(message[2]);
        if (chunk === undefined) break;
        slot.held.delete(chunk.id);
        chunk.job.failed(
          chunk,
          attribute(message[4], chunk, message[3], slot.process.pid),
        );
        break;
      }
    }
    this.#pump();
  }

  /** The module or the initializer failed: every call fails with `error`. */
  #break(error: unknown): void {
    if (this.#broken !== null) return;
    this.#broken = { error };
    for (const chunk of this.#pending.splice(0)) chunk.job.failed(chunk, error);
    for (const slot of this.#slots) {
      if (slot === null) continue;
      for (const chunk of slot.held.values()) chunk.job.failed(chunk, error);
      slot.held.clear();
    }
    if (this.#state === "open") this.#state = "closed";
  }

  /**
   * A worker exited: the messages it sent first are read; the chunks it
   * still held fail with a {@linkcode WorkerExitError}; it is replaced if
   * the pool still needs it.
   */
  #exited(slot: Slot, status: Deno.CommandStatus): void {
    for (;;) {
      let message: PoolMessage;
      try {
        message = this.#results.getNowait();
      } catch {
        break;
      }
      this.#handle(message);
    }
    // What is still buffered for it can never be written (nobody reads its
    // pipe): drop it, or the feeder would keep this process alive.
    slot.inbox.cancelJoinThread();
    slot.inbox.close();
    if (this.#slots[slot.index] === slot) this.#slots[slot.index] = null;
    const error = new WorkerExitError(
      slot.process.pid,
      status.code,
      status.signal,
    );
    // A worker runs its chunks in the order sent and writes each answer
    // before it starts the next: with its answers read, the oldest chunk
    // it held was running, the others had not started (sent again).
    const [running, ...waiting] = slot.held.values();
    slot.held.clear();
    running?.job.failed(running, error);
    this.#pending.unshift(...waiting.filter((c) => !c.job.over));
    if (
      !slot.ready && !slot.stopping && this.#broken === null && !this.#loaded
    ) {
      // No worker ever got the module loaded: its replacement would die too.
      this.#break(error);
    }
    const needed = this.#state === "open" ||
      (this.#state === "closed" && this.#pending.length > 0);
    if (needed && this.#broken === null) this.#start(slot.index);
    this.#pump();
  }

  /** The iterator behind `imap` and `imapUnordered`. */
  async *#iterate<K extends TaskName<M>>(
    name: K,
    items: Iterable<TaskArgs<M, K>[0]>,
    options: MapOptions | undefined,
    ordered: boolean,
  ): AsyncGenerator<TaskResult<M, K>> {
    const args: readonly unknown[] = listOf(items);
    this.#check();
    options?.signal?.throwIfAborted();
    const size = options?.chunkSize === undefined
      ? 1
      : chunkSizeOf(options.chunkSize, args.length, this.#size);
    /** Finished chunks, by offset: their results, or an error. */
    const ready = new Map<
      number,
      { ok: boolean; results?: unknown[]; error?: unknown }
    >();
    const order: number[] = []; // offsets as they finished (unordered)
    let wake: (() => void) | null = null;
    let over = false;
    const job: Job = {
      done: (chunk, results) => {
        ready.set(chunk.offset, { ok: true, results });
        order.push(chunk.offset);
        wake?.();
      },
      failed: (chunk, error) => {
        const offset = chunk?.offset ?? -1;
        ready.set(offset, { ok: false, error });
        order.push(offset);
        wake?.();
      },
      get over() {
        return over;
      },
    };
    const signal = options?.signal;
    const onAbort = () => job.failed(null, signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (let i = 0; i < args.length; i += size) {
        this.#pending.push({
          id: this.#nextId++,
          name,
          args: args.slice(i, i + size),
          spread: false,
          offset: i,
          job,
        });
      }
      this.#pump();
      let next = 0; // ordered: the offset of the next chunk to yield
      let yielded = 0;
      while (yielded < args.length) {
        const aborted = ready.get(-1);
        if (aborted !== undefined && !aborted.ok) throw aborted.error;
        let offset: number | undefined;
        if (ordered) {
          if (ready.has(next)) offset = next;
        } else {
          offset = order.shift();
        }
        if (offset === undefined) {
          await new Promise<void>((resolve) => wake = resolve);
          wake = null;
          continue;
        }
        const entry = ready.get(offset)!;
        ready.delete(offset);
        if (!entry.ok) throw entry.error;
        const results = entry.results!;
        if (ordered) next = offset + results.length;
        for (const r of results) {
          yielded++;
          yield r as TaskResult<M, K>;
        }
      }
    } finally {
      over = true;
      signal?.removeEventListener("abort", onAbort);
      this.#dropPending(job);
    }
  }
}

/** The chunk size of a call: given, or CPython's choice. */
function chunkSizeOf(
  given: number | undefined,
  items: number,
  workers: number,
): number {
  if (given !== undefined) {
    if (!Number.isInteger(given) || given < 1) {
      throw new RangeError(
        `Cannot split the items: chunkSize must be a positive integer, received ${given}`,
      );
    }
    return given;
  }
  const size = Math.floor(items / (workers * 4));
  return Math.max(1, items % (workers * 4) === 0 ? size : size + 1);
}

/**
 * The error of a failed task, with a `cause` saying which one: the task's
 * name, its index in the call, the worker's pid (and the error's own
 * cause, if it had one).
 */
function attribute(
  error: unknown,
  chunk: Chunk,
  index: number,
  pid: number,
): unknown {
  if (error === null || typeof error !== "object") return error;
  const own = (error as { cause?: unknown }).cause;
  const cause = {
    task: chunk.name,
    index: chunk.offset + index,
    pid,
    ...(own !== undefined ? { cause: own } : {}),
  };
  try {
    Object.defineProperty(error, "cause", {
      value: cause,
      writable: true,
      configurable: true,
    });
  } catch {
    // a frozen error keeps its cause
  }
  return error;
}

/** A module specifier: a URL as is, a path against the current directory. */
function resolveModule(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== "string" || module === "") {
    throw new TypeError(
      "Cannot create a pool: module must be a non-empty string or a URL",
    );
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) {
    return module;
  }
  return new URL(module, `file://${Deno.cwd()}/`).href;
}

/**
 * The items as an array: an array as it is (its chunks are copied
 * synchronously, before the call returns), anything else copied (a fresh
 * 100,000-element array costs milliseconds of page faults on some machines).
 */
function listOf<T>(items: Iterable<T>): readonly T[] {
  return Array.isArray(items) ? items : Array.from(items);
}
