// JoinableQueue: CPython's test_task_done and the project's own cases, with
// real worker processes and real FFI.

import {
  deepStrictEqual,
  ok,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import {
  ClosedError,
  DeadlockError,
  Empty,
  JoinableQueue,
  Queue,
  spawn,
  TasksLostError,
} from "../mod.ts";
import {
  guardedTest as test,
  pendingAfter,
  withTimeout,
  workerUrl,
} from "./_util.ts";

interface Result {
  item: number;
  square: number;
  pid: number;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

test("JoinableQueue.join() resolves only after 4 workers taskDone() all ten items (test_task_done)", async () => {
  await using jobs = new JoinableQueue<number | null>();
  await using results = new Queue<Result>();
  const workers = range(0, 4).map(() =>
    spawn(workerUrl("jq_worker.ts"), { args: [jobs, results, 100] })
  );
  try {
    for (let i = 0; i < 10; i++) await jobs.put(i);
    await jobs.join();
    // Each worker puts its result before its taskDone(), so all ten are
    // counted by the time join() resolves.
    strictEqual(results.qsize(), 10);
    const got: Result[] = [];
    for (let i = 0; i < 10; i++) {
      got.push(await results.get({ timeout: 10_000 }));
    }
    deepStrictEqual(got.map((r) => r.item).sort((a, b) => a - b), range(0, 10));
    for (const r of got) strictEqual(r.square, r.item * r.item);
    for (let i = 0; i < 4; i++) await jobs.put(null);
  } finally {
    for (const w of workers) strictEqual((await w.status).code, 0);
  }
});

test("JoinableQueue.join() on an empty, never-used queue resolves at once", async () => {
  await using q = new JoinableQueue<number>();
  const t0 = performance.now();
  await q.join();
  await q.join({ timeout: 0 });
  ok(performance.now() - t0 < 100);
});

test("JoinableQueue.taskDone() called too many times throws RangeError", async () => {
  await using q = new JoinableQueue<number>();
  throws(() => q.taskDone(), {
    name: "RangeError",
    message: "taskDone() called too many times",
  });
  await q.put(1);
  strictEqual(await q.get(), 1);
  q.taskDone();
  throws(() => q.taskDone(), {
    name: "RangeError",
    message: "taskDone() called too many times",
  });
  await q.join();
});

test("JoinableQueue.join({ timeout: 200 }) rejects with a TimeoutError DOMException", async () => {
  await using q = new JoinableQueue<number>();
  await q.put(1);
  const t0 = performance.now();
  await rejects(q.join({ timeout: 200 }), (e: unknown) => {
    ok(e instanceof DOMException, `expected a DOMException, got ${e}`);
    strictEqual(e.name, "TimeoutError");
    return true;
  });
  const elapsed = performance.now() - t0;
  ok(elapsed >= 200, `rejected after ${elapsed} ms, before the timeout`);
  ok(elapsed < 3_200, `rejected only after ${elapsed} ms`);
  strictEqual(await q.get(), 1);
  q.taskDone();
  await q.join({ timeout: 1000 });
});

test("JoinableQueue.join({ signal }) rejects with AbortError when aborted", async () => {
  await using q = new JoinableQueue<number>();
  await q.put(1);
  await rejects(
    q.join({ signal: AbortSignal.abort() }),
    (e: unknown) => e instanceof DOMException && e.name === "AbortError",
  );
  const ac = new AbortController();
  const p = q.join({ signal: ac.signal });
  strictEqual(await pendingAfter(p, 100), true);
  ac.abort();
  await rejects(
    p,
    (e: unknown) => e instanceof DOMException && e.name === "AbortError",
  );
  strictEqual(await q.get(), 1);
  q.taskDone();
  await q.join();
});

test("JoinableQueue.join() in the parent rejects with DeadlockError while it holds an item", async () => {
  await using q = new JoinableQueue<string>();
  await q.putMany(["a", "b"]);
  strictEqual(await q.get(), "a");
  strictEqual(await q.get(), "b");
  await rejects(q.join(), (e: unknown) => {
    ok(e instanceof DeadlockError, `expected DeadlockError, got ${e}`);
    strictEqual(e.name, "DeadlockError");
    ok(e.message.includes("2"), e.message);
    return true;
  });
  q.taskDone();
  await rejects(q.join(), DeadlockError);
  q.taskDone();
  await q.join();
});

test("JoinableQueue.join() in a worker that holds an item rejects with DeadlockError", async () => {
  await using q = new JoinableQueue<string>();
  await using results = new Queue<unknown>();
  await using w = spawn(workerUrl("jq_deadlock.ts"), { args: [q, results] });
  await q.put("job");
  const report = await results.get({ timeout: 30_000 }) as {
    name: string;
    message: string;
    item: string;
  };
  strictEqual(report.name, "DeadlockError");
  strictEqual(report.item, "job");
  ok(/\b1 item/.test(report.message), report.message);
  strictEqual(await results.get({ timeout: 30_000 }), "joined");
  await q.join({ timeout: 10_000 });
  strictEqual((await w.status).code, 0);
});

test("JoinableQueue pool: 3 workers process 1,000 jobs, join() resolves, one null per worker stops them", async () => {
  await using jobs = new JoinableQueue<number | null>();
  await using results = new Queue<Result>();
  const workers = range(0, 3).map(() =>
    spawn(workerUrl("jq_worker.ts"), { args: [jobs, results, 0] })
  );
  try {
    await jobs.putMany(range(0, 1000));
    await jobs.join();
    strictEqual(results.qsize(), 1000);
    for (let i = 0; i < 3; i++) await jobs.put(null);
    const seen = new Uint8Array(1000);
    const pids = new Set<number>();
    let n = 0;
    while (n < 1000) {
      for (const r of await results.getMany({ timeout: 30_000 })) {
        strictEqual(r.square, r.item * r.item);
        strictEqual(seen[r.item], 0, `job ${r.item} done twice`);
        seen[r.item] = 1;
        pids.add(r.pid);
        n++;
      }
    }
    ok(seen.every((b) => b === 1));
    ok(pids.size >= 1 && pids.size <= 3);
    ok(!pids.has(Deno.pid));
  } finally {
    for (const w of workers) strictEqual((await w.status).code, 0);
  }
});

test("JoinableQueue: a worker's put raises the unfinished count that the parent's join() waits for", async () => {
  await using q = new JoinableQueue<string>();
  await using done = new Queue<string>();
  await using w = spawn(workerUrl("q_put.ts"), {
    args: [q, ["from-worker"], { done, flush: true }],
  });
  strictEqual(await done.get({ timeout: 30_000 }), "done");
  strictEqual((await w.status).code, 0);
  const joined = q.join();
  strictEqual(await pendingAfter(joined, 300), true);
  strictEqual(await q.get({ timeout: 5000 }), "from-worker");
  q.taskDone();
  await withTimeout(joined, 5_000, "join() after the parent's taskDone()");
});

test("JoinableQueue: taskDone() and join() throw or reject with ClosedError after close()", async () => {
  const q = new JoinableQueue<number>();
  await q.put(1);
  q.close();
  strictEqual(q.closed, true);
  throws(() => q.taskDone(), ClosedError);
  await rejects(q.join(), ClosedError);
  await rejects(q.put(2), ClosedError);
  await rejects(q.get(), ClosedError);
  throws(() => q.qsize(), ClosedError);
  await q.joinThread();
});

test("JoinableQueue: a pending join() rejects with ClosedError when close() is called", async () => {
  const q = new JoinableQueue<number>();
  await q.put(1);
  const p = q.join();
  strictEqual(await pendingAfter(p, 100), true);
  q.close();
  await rejects(p, ClosedError);
  await q.joinThread();
});

test("JoinableQueue.join() resolves after a producer died with items buffered, with no qsize() call to sweep (issue 12, item 4)", async () => {
  await using q = new JoinableQueue<number>();
  const worker = spawn(workerUrl("buffer_and_die.ts"), { args: [q, 100] });
  strictEqual((await worker.status).signal, "SIGKILL");
  // The items written before the kill arrive (in order); the ones still
  // buffered died with the worker.
  const got = [await q.get({ timeout: 10_000 })];
  for (;;) {
    q.taskDone();
    try {
      got.push(await q.get({ timeout: 200 }));
    } catch (e) {
      ok(e instanceof Empty, String(e));
      break;
    }
  }
  deepStrictEqual(got, got.map((_, i) => i));
  ok(got.length < 100, `${got.length} items arrived: none died buffered`);
  await q.join({ timeout: 5_000 });
  strictEqual(q.qsize(), 0);
});

test("a consumer that dies holding items: a pending join() rejects with TasksLostError (pid, count) within 1 s, once; the lost items stop counting (issue 12)", async () => {
  await using q = new JoinableQueue<number>();
  await using report = new Queue<string>();
  await q.putMany([1, 2, 3]);
  await q.joinThread();
  const pending = q.join().catch((e) => e);
  const worker = spawn(workerUrl("get_and_die.ts"), { args: [q, report, 2] });
  strictEqual(await report.get({ timeout: 30_000 }), "got");
  strictEqual((await worker.status).signal, "SIGKILL");
  const t0 = performance.now();
  const e = await withTimeout(pending, 5_000, "join() after the loss");
  ok(e instanceof TasksLostError, String(e));
  strictEqual(e.pid, worker.pid);
  strictEqual(e.count, 2);
  ok(performance.now() - t0 < 1000, `${performance.now() - t0} ms`);
  // Told once: the next join() waits for the one item left.
  const next = q.join();
  strictEqual(await pendingAfter(next, 300), true);
  strictEqual(await q.get({ timeout: 1000 }), 3);
  q.taskDone();
  await withTimeout(next, 5_000, "join() of the remaining item");
});
