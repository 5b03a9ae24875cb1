/**
 * `JoinableQueue`: a {@linkcode Queue} whose producers can wait until every
 * item has been processed, across processes.
 *
 * @module
 */

import { Queue } from "./queue.ts";
import type { QueueOptions } from "./queue_options.ts";
import type { JoinableQueueLike } from "./queue_like.ts";
import { type Core, INTERNAL, type Internal, QUEUE_MARK } from "./_core.ts";
import type { Ledger } from "./_ledger.ts";
import { deadlineOf } from "./wait/_until.ts";
import { DeadlockError, TasksLostError } from "./errors.ts";

/**
 * Options of {@linkcode JoinableQueue.join}.
 *
 * @example Usage
 * ```ts
 * import { JoinableQueue, type JoinOptions } from "@mp/queues";
 * import { rejects } from "node:assert/strict";
 *
 * await using q = new JoinableQueue<number>();
 * await q.put(1);
 * const options: JoinOptions = { timeout: 10 };
 * await rejects(q.join(options), { name: "TimeoutError" });
 * await q.get();
 * q.taskDone();
 * await q.join(options);
 * ```
 */
export interface JoinOptions {
  /** The longest wait in ms; expiry rejects with a `TimeoutError` `DOMException`. */
  timeout?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
}

/**
 * A {@linkcode Queue} that counts unfinished tasks across processes: every
 * `put` (in any process) adds one, every `taskDone()` (in any process)
 * removes one, and `join()` waits until the count is zero.
 *
 * @typeParam T The type of the items.
 *
 * @example Usage
 * ```ts
 * import { JoinableQueue } from "@mp/queues";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using q = new JoinableQueue<string>();
 * await q.put("job");
 * strictEqual(await q.get(), "job");
 * q.taskDone();
 * await q.join();
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T>
  implements JoinableQueueLike<T> {
  readonly #core: Core;
  readonly #ledger: Ledger;

  /**
   * Creates a joinable queue: a pipe and a little shared memory.
   *
   * @param options The size bound and the serializer.
   * @throws {RangeError} if `maxsize` is `NaN`, not an integer, or above 2^31−1.
   */
  constructor(options?: QueueOptions) {
    const given = (options as { [INTERNAL]?: Internal } | undefined)
      ?.[INTERNAL];
    const internal: Internal = given ?? { kind: "JoinableQueue" };
    super({ ...options, [INTERNAL]: internal } as QueueOptions);
    this.#core = (this as unknown as { [QUEUE_MARK]: Core })[QUEUE_MARK];
    this.#ledger = this.#core.ledger;
  }

  /**
   * Sweeps dead producers (their unwritten items will never be done) and
   * dead consumers; throws the first loss this process was not told of.
   */
  #checkLosses(): void {
    this.#ledger.sweep();
    const loss = this.#ledger.nextLoss();
    if (loss !== null) throw new TasksLostError(loss.pid, loss.count);
  }

  /**
   * Marks one item got from the queue as processed. When the unfinished count
   * reaches zero, every process waiting in `join()` resolves.
   *
   * @throws {RangeError} if called more times than items were put.
   * @throws {ClosedError} after `close()`.
   *
   * @example Usage
   * ```ts
   * import { JoinableQueue } from "@mp/queues";
   * import { throws } from "node:assert/strict";
   *
   * await using q = new JoinableQueue<number>();
   * throws(() => q.taskDone(), RangeError);
   * ```
   */
  taskDone(): void {
    this.#core.check();
    if (!this.#ledger.done()) {
      throw new RangeError("taskDone() called too many times");
    }
  }

  /**
   * Waits until every item ever put has been marked done.
   *
   * @param options `timeout` (ms) and `signal`.
   * @returns A promise that resolves when the unfinished count is zero.
   * @throws {DeadlockError} (rejects at once) if this process holds items it got and did not mark done.
   * @throws {TasksLostError} (rejects) when a process died holding items it got without `taskDone()` (once per loss per process); the lost items no longer count.
   * @throws {DOMException} (rejects) named `TimeoutError` when the timeout expires.
   * @throws {ClosedError} (rejects) after `close()`.
   *
   * @example Usage
   * ```ts
   * import { JoinableQueue } from "@mp/queues";
   *
   * await using q = new JoinableQueue<number>();
   * await q.join(); // nothing was put: resolves at once
   * ```
   */
  async join(options?: JoinOptions): Promise<void> {
    const core = this.#core;
    const ledger = this.#ledger;
    core.check();
    options?.signal?.throwIfAborted();
    if (ledger.held > 0) {
      throw new DeadlockError(
        `join() would wait forever: this process holds ${ledger.held} item(s) it got from the queue and has not marked done with taskDone()`,
      );
    }
    const until = core.until(deadlineOf(options), options?.signal);
    this.#checkLosses();
    if (ledger.unfinished() === 0) return;
    core.enter();
    try {
      // The last taskDone() (in any process) wakes every joiner at once.
      for (;;) {
        core.check();
        until.signal?.throwIfAborted();
        this.#checkLosses();
        if (ledger.unfinished() === 0) return;
        if (until.deadline <= performance.now()) {
          throw new DOMException("join() timed out", "TimeoutError");
        }
        await ledger.waitDone(until);
      }
    } finally {
      core.leave();
    }
  }
}
