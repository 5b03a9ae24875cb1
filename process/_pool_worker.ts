// The worker process of a `Pool` (process/pool.ts): imports the task
// module, runs the initializer, then runs the chunks of tasks its inbox
// brings until a stop (null), and answers on the pool's results queue.
// Its entry is a module the pool writes (a data: URL) that calls
// `runPoolWorker(() => import("<the task module>"))`: a literal specifier,
// so that Deno loads the task module and what it imports without read
// permissions, and a failure to load is caught and reported.
//
// Messages to the parent (see `PoolMessage` in pool.ts):
//   ["ready", slot, pid]                    the module loaded, the initializer ran
//   ["init-error", slot, error]             either failed (the worker then exits 0)
//   ["done", slot, taskId, results]         a chunk ran; its results in order
//   ["error", slot, taskId, index, error]   item `index` of a chunk threw

import type { Queue } from "../queues/queue.ts";
import { workerArgs } from "./spawn.ts";

/**
 * A chunk (items that are one argument each, or, `spread`, argument lists),
 * the ids of chunks sent and no longer wanted, or a stop (null).
 */
type Task =
  | [id: number, name: string, chunk: unknown[], spread: boolean]
  | ["cancel", ids: number[]]
  | null;

/** Whether `v` is a promise-like value (only those are awaited). */
function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function";
}

/**
 * Runs a pool worker: `load` imports the task module.
 *
 * @param load imports the task module (a literal `import()` of the caller)
 */
export async function runPoolWorker(
  load: () => Promise<Record<string, unknown>>,
): Promise<void> {
  const [inbox, results, slot, moduleUrl, initializer, initArgs] = workerArgs<
    [Queue<Task>, Queue<unknown>, number, string, string | null, unknown[]]
  >();

  /**
   * Puts a message (one that cannot be serialized becomes an error message)
   * and waits until it is written: the parent counts on every answer of a
   * worker being in the pipe before it starts its next task.
   */
  async function answer(message: unknown[], id: number, index: number) {
    try {
      await results.put(message);
    } catch (e) {
      await results.put(["error", slot, id, index, e]);
    }
    await results.joinThread();
  }

  let tasks: Record<string, unknown> = {};
  try {
    tasks = await load();
    if (initializer !== null) {
      const init = tasks[initializer];
      if (typeof init !== "function") {
        throw new TypeError(
          `Cannot run the initializer: ${moduleUrl} has no function export named "${initializer}"`,
        );
      }
      await init(...initArgs);
    }
  } catch (e) {
    await results.put(["init-error", slot, e]);
    await results[Symbol.asyncDispose]();
    inbox.close();
    return;
  }
  await results.put(["ready", slot, Deno.pid]);

  /** Messages read ahead (to see cancels), and the chunks called back. */
  const ahead: Task[] = [];
  const cancelled = new Set<number>();
  for (;;) {
    const task = ahead.length > 0 ? ahead.shift()! : await inbox.get();
    if (task === null) break;
    if (task[0] === "cancel") {
      for (const id of task[1]) cancelled.add(id);
      continue;
    }
    // Before starting a chunk, read what else came (a cancel of it, maybe).
    for (;;) {
      try {
        ahead.push(inbox.getNowait());
      } catch {
        break;
      }
    }
    for (const t of ahead) {
      if (t !== null && t[0] === "cancel") {
        for (const id of t[1]) cancelled.add(id);
      }
    }
    const [id, name, chunk, spread] = task;
    if (cancelled.delete(id)) continue;
    const fn = tasks[name];
    if (typeof fn !== "function") {
      await answer(
        [
          "error",
          slot,
          id,
          0,
          new TypeError(
            `Cannot run task "${name}": ${moduleUrl} has no function export of that name`,
          ),
        ],
        id,
        0,
      );
      continue;
    }
    const out: unknown[] = new Array(chunk.length);
    let i = 0;
    try {
      for (; i < chunk.length; i++) {
        let r = spread ? fn(...chunk[i] as unknown[]) : fn(chunk[i]);
        if (isThenable(r)) r = await r; // a sync task costs no microtask
        out[i] = r;
      }
    } catch (e) {
      await answer(["error", slot, id, i, e], id, i);
      continue;
    }
    await answer(["done", slot, id, out], id, 0);
  }
  await results[Symbol.asyncDispose]();
  inbox.close();
}
