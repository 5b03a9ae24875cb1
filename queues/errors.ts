/**
 * The queue-domain error classes.
 *
 * @module
 */

/**
 * Thrown by `putNowait()`, `put({ block: false })` on a full queue, and by
 * `put({ timeout })` when the timeout expires before a slot is free.
 *
 * @example Usage
 * ```ts
 * import { Full, Queue } from "@mp/queues";
 * import { throws } from "node:assert/strict";
 *
 * const q = new Queue<number>({ maxsize: 1 });
 * q.putNowait(1);
 * throws(() => q.putNowait(2), Full);
 * await q.get();
 * q.close();
 * ```
 */
export class Full extends Error {
  /** Always `"Full"`. */
  override name = "Full";
  /**
   * Creates the error.
   *
   * @param message What was full.
   * @param options The standard error options (`cause`).
   */
  constructor(message = "Queue is full", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Thrown by `getNowait()`, `get({ block: false })` on an empty queue, and by
 * `get({ timeout })` when the timeout expires before an item arrives.
 *
 * @example Usage
 * ```ts
 * import { Empty, Queue } from "@mp/queues";
 * import { throws } from "node:assert/strict";
 *
 * const q = new Queue<number>();
 * throws(() => q.getNowait(), Empty);
 * q.close();
 * ```
 */
export class Empty extends Error {
  /** Always `"Empty"`. */
  override name = "Empty";
  /**
   * Creates the error.
   *
   * @param message What was empty.
   * @param options The standard error options (`cause`).
   */
  constructor(message = "Queue is empty", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Thrown by any operation on a queue this process has closed; pending `get`s of
 * this process reject with it when `close()` is called.
 *
 * @example Usage
 * ```ts
 * import { ClosedError, SimpleQueue } from "@mp/queues";
 * import { rejects } from "node:assert/strict";
 *
 * const q = new SimpleQueue<number>();
 * q.close();
 * await rejects(q.put(1), ClosedError);
 * ```
 */
export class ClosedError extends Error {
  /** Always `"ClosedError"`. */
  override name = "ClosedError";
  /**
   * Creates the error.
   *
   * @param message What was closed.
   * @param options The standard error options (`cause`).
   */
  constructor(message = "Queue is closed", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Thrown by `JoinableQueue.join()` when the calling process itself holds items
 * it got from the queue and has not marked done with `taskDone()`: waiting
 * would wait for itself.
 *
 * @example Usage
 * ```ts
 * import { DeadlockError, JoinableQueue } from "@mp/queues";
 * import { rejects } from "node:assert/strict";
 *
 * const q = new JoinableQueue<string>();
 * await q.put("job");
 * await q.get();
 * await rejects(q.join(), DeadlockError);
 * q.taskDone();
 * await q.join();
 * q.close();
 * ```
 */
export class DeadlockError extends Error {
  /** Always `"DeadlockError"`. */
  override name = "DeadlockError";
  /**
   * Creates the error.
   *
   * @param message What would deadlock.
   * @param options The standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * The `reason` of `WorkerProcess.signal`: the worker exited with a
 * non-zero code or was killed by a signal (a module that fails to load, an
 * uncaught error, `Deno.exit(1)`, `kill()`).
 *
 * @example Usage
 * ```ts
 * import { Queue, spawn, WorkerExitError } from "@mp/queues";
 * import { rejects } from "node:assert/strict";
 *
 * const crashing = "data:application/typescript,throw new Error('boom');";
 * await using results = new Queue<number>();
 * await using worker = spawn(crashing, { stderr: "null" });
 * // Instead of waiting forever for a result that never comes:
 * await rejects(results.get({ signal: worker.signal }), WorkerExitError);
 * ```
 */
export class WorkerExitError extends Error {
  /** Always `"WorkerExitError"`. */
  override name = "WorkerExitError";
  /** The worker's process id. */
  readonly pid: number;
  /** Its exit code (128 + the signal's number when killed by one). */
  readonly code: number;
  /** The signal that killed it, or null. */
  readonly signal: Deno.Signal | null;
  /**
   * Creates the error.
   *
   * @param pid The worker's process id.
   * @param code Its exit code.
   * @param signal The signal that killed it, or null.
   */
  constructor(pid: number, code: number, signal: Deno.Signal | null) {
    super(
      signal === null
        ? `Worker ${pid} exited with code ${code}`
        : `Worker ${pid} was killed by ${signal}`,
    );
    this.pid = pid;
    this.code = code;
    this.signal = signal;
  }
}

/**
 * Rejects `JoinableQueue.join()`: a process died holding items it got from
 * the queue without `taskDone()`. Every process's pending `join()` rejects
 * with it within a second, and so does the next `join()` of each process that
 * has not been told yet; the lost items no longer count as unfinished.
 *
 * @example Usage
 * ```ts
 * import { TasksLostError } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * const e = new TasksLostError(1234, 2);
 * strictEqual(e.message, "Process 1234 died holding 2 item(s) it got and did not mark done");
 * strictEqual(e.count, 2);
 * ```
 */
export class TasksLostError extends Error {
  /** Always `"TasksLostError"`. */
  override name = "TasksLostError";
  /** The process that died. */
  readonly pid: number;
  /** How many items it held. */
  readonly count: number;
  /**
   * Creates the error.
   *
   * @param pid The process that died.
   * @param count How many items it held.
   */
  constructor(pid: number, count: number) {
    super(
      `Process ${pid} died holding ${count} item(s) it got and did not mark done`,
    );
    this.pid = pid;
    this.count = count;
  }
}
