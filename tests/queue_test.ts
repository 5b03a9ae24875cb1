// Queue: ports of CPython's _TestQueue cases and the project's own cases, with
// real worker processes and real FFI.

import { setTimeout } from "node:timers/promises";
import {
  deepStrictEqual,
  ok,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import {
  bytes,
  ClosedError,
  Empty,
  Full,
  JoinableQueue,
  Queue,
  SimpleQueue,
  spawn,
} from "../mod.ts";
import {
  countTornWarnings,
  guardedTest as test,
  pendingAfter,
  sleep,
  withTimeout,
  workerUrl,
} from "./_util.ts";
import { openFds, queueMappings } from "./_sys.ts";

/** How late a timeout may fire before we call it a hang. */
const LATE_MS = 3_000;

/** Runs `fn`, returns its settled error (or undefined) and the elapsed ms. */
async function timed(
  fn: () => Promise<unknown> | unknown,
): Promise<[unknown, number]> {
  const t0 = performance.now();
  try {
    await fn();
    return [undefined, performance.now() - t0];
  } catch (e) {
    return [e, performance.now() - t0];
  }
}

/** Asserts that `fn` fails with `cls` no earlier than `ms` and not much later. */
async function assertTimesOut(
  fn: () => Promise<unknown> | unknown,
  cls: new (...args: never[]) => Error,
  ms: number,
): Promise<void> {
  const [err, elapsed] = await timed(fn);
  ok(err instanceof cls, `expected ${cls.name}, got ${err}`);
  ok(elapsed >= ms, `failed after ${elapsed} ms, before the ${ms} ms timeout`);
  ok(elapsed < ms + LATE_MS, `failed only after ${elapsed} ms`);
}

/** Asserts that `fn` fails with `cls` at once (well under 100 ms). */
async function assertImmediate(
  fn: () => Promise<unknown> | unknown,
  cls: new (...args: never[]) => Error,
): Promise<void> {
  const [err, elapsed] = await timed(fn);
  ok(err instanceof cls, `expected ${cls.name}, got ${err}`);
  ok(elapsed < 80, `took ${elapsed} ms, expected an immediate failure`);
}

function isAbortError(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

// ------------------------------------------------------------ CPython ports

test("Queue put sequence with maxsize 6 (test_put): Full cases, then a worker gets all six", async () => {
  await using q = new Queue<number>({ maxsize: 6 });
  await using start = new Queue<string>();
  await using done = new Queue<number[]>();
  await using w = spawn(workerUrl("q_get_n.ts"), {
    args: [q, start, done, 6],
  });

  strictEqual(q.empty(), true);
  strictEqual(q.full(), false);

  await q.put(1);
  await q.put(2, { block: true });
  await q.put(3, { block: true, timeout: undefined });
  await q.put(4, { block: false });
  await q.put(5, { block: false, timeout: undefined });
  q.putNowait(6);

  strictEqual(q.empty(), false);
  strictEqual(q.full(), true);
  strictEqual(q.qsize(), 6);

  await assertImmediate(() => q.put(7, { block: false }), Full);
  await assertImmediate(
    () => q.put(7, { block: false, timeout: undefined }),
    Full,
  );
  await assertImmediate(() => q.putNowait(7), Full);
  await assertTimesOut(
    () => q.put(7, { block: true, timeout: 100 }),
    Full,
    100,
  );
  await assertImmediate(() => q.put(7, { block: false, timeout: 100 }), Full);
  await assertTimesOut(() => q.put(7, { timeout: 100 }), Full, 100);
  strictEqual(q.qsize(), 6);

  await start.put("go");
  deepStrictEqual(await done.get(), [1, 2, 3, 4, 5, 6]);
  strictEqual(q.empty(), true);
  strictEqual(q.full(), false);
  strictEqual((await w.status).code, 0);
});

test("Queue get variants after a worker put 1..5 (test_get), then Empty cases", async () => {
  await using q = new Queue<number>();
  await using start = new Queue<string>();
  await using done = new Queue<string>();
  await using w = spawn(workerUrl("q_put.ts"), {
    args: [q, [1, 2, 3, 4, 5], { start, done, flush: true }],
  });

  strictEqual(q.empty(), true);
  await start.put("go");
  strictEqual(await done.get(), "done");
  strictEqual(q.empty(), false);
  strictEqual(q.qsize(), 5);

  strictEqual(q.getNowait(), 1);
  strictEqual(await q.get({ block: true, timeout: undefined }), 2);
  strictEqual(await q.get({ block: true }), 3);
  strictEqual(await q.get({ timeout: 1000 }), 4);
  strictEqual(await q.get(), 5);
  strictEqual(q.empty(), true);

  await assertImmediate(() => q.get({ block: false }), Empty);
  await assertImmediate(
    () => q.get({ block: false, timeout: undefined }),
    Empty,
  );
  await assertImmediate(() => q.getNowait(), Empty);
  await assertTimesOut(() => q.get({ block: true, timeout: 100 }), Empty, 100);
  await assertImmediate(() => q.get({ block: false, timeout: 100 }), Empty);
  await assertTimesOut(() => q.get({ timeout: 100 }), Empty, 100);
  strictEqual((await w.status).code, 0);
});

test("Queue gets the parent's 0..9 then a worker's 10..19 though the worker never closed it (test_fork)", async () => {
  await using q = new Queue<number>();
  for (let i = 0; i < 10; i++) await q.put(i);
  await sleep(100);
  await using w = spawn(workerUrl("q_put.ts"), {
    args: [q, range(10, 20), {}],
  });
  const got: number[] = [];
  for (let i = 0; i < 20; i++) got.push(await q.get({ timeout: 30_000 }));
  deepStrictEqual(got, range(0, 20));
  await rejects(q.get({ block: false }), Empty);
  strictEqual((await w.status).code, 0);
});

test("Queue.qsize() counts a put at once and goes down with each get (test_qsize)", async () => {
  await using q = new Queue<number>();
  strictEqual(q.qsize(), 0);
  await q.put(1);
  strictEqual(q.qsize(), 1);
  await q.put(5);
  strictEqual(q.qsize(), 2);
  strictEqual(await q.get(), 1);
  strictEqual(q.qsize(), 1);
  strictEqual(await q.get(), 5);
  strictEqual(q.qsize(), 0);
});

test("Queue.qsize() in the parent counts a worker's puts", async () => {
  await using q = new Queue<string>();
  await using done = new Queue<string>();
  await using w = spawn(workerUrl("q_put.ts"), {
    args: [q, ["a", "b", "c"], { done }],
  });
  strictEqual(await done.get(), "done");
  strictEqual(q.qsize(), 3);
  strictEqual(q.empty(), false);
  strictEqual(await q.get(), "a");
  strictEqual(q.qsize(), 2);
  strictEqual(await q.get(), "b");
  strictEqual(await q.get(), "c");
  strictEqual(q.qsize(), 0);
  strictEqual((await w.status).code, 0);
});

test("Queue.put() on a full queue rejects with Full after the timeout", async () => {
  await using q = new Queue<number>({ maxsize: 1 });
  q.putNowait(1);
  await assertTimesOut(() => q.put(2, { timeout: 200 }), Full, 200);
  strictEqual(q.qsize(), 1);
  strictEqual(await q.get(), 1);
});

test("Queue.get() rejects with Empty after the timeout (test_timeout)", async () => {
  await using q = new Queue<number>();
  await assertTimesOut(() => q.get({ timeout: 200 }), Empty, 200);
});

// ------------------------------------------------------------ closed queues

test("Queue: every method throws or rejects with ClosedError after close()", async () => {
  const q = new Queue<number>({ maxsize: 3 });
  await q.put(1);
  strictEqual(q.closed, false);
  q.close();
  strictEqual(q.closed, true);
  await q.joinThread();
  throws(() => q.putNowait(2), ClosedError);
  throws(() => q.getNowait(), ClosedError);
  throws(() => q.qsize(), ClosedError);
  throws(() => q.empty(), ClosedError);
  throws(() => q.full(), ClosedError);
  await rejects(q.put(2), ClosedError);
  await rejects(q.get(), ClosedError);
  await rejects(q.get({ timeout: 0 }), ClosedError);
  await rejects(q.putMany([2, 3]), ClosedError);
  await rejects(q.getMany(), ClosedError);
  throws(() => spawn(workerUrl("echo.ts"), { args: [q, q] }), ClosedError);
  q.close(); // a second close does nothing
  strictEqual(q.closed, true);
  await q.joinThread();
  const seen: number[] = [];
  for await (const x of q) seen.push(x);
  deepStrictEqual(seen, []);
});

test("Queue: close() on a never-used queue, joinThread() resolves, close() twice is a no-op", async () => {
  const q = new Queue<number>();
  q.close();
  await q.joinThread();
  q.close();
  strictEqual(q.closed, true);
  const j = new JoinableQueue<number>();
  j.close();
  await j.joinThread();
  strictEqual(j.closed, true);
});

test("Queue: a pending get() rejects with ClosedError when close() is called", async () => {
  const q = new Queue<number>();
  const p = q.get();
  strictEqual(await pendingAfter(p, 100), true);
  const t0 = performance.now();
  q.close();
  strictEqual(q.closed, true);
  await rejects(p, ClosedError);
  ok(performance.now() - t0 < LATE_MS);
});

test("Queue: a put() waiting for a slot rejects with ClosedError on close()", async () => {
  const q = new Queue<number>({ maxsize: 1 });
  await q.put(1);
  const p = q.put(2);
  strictEqual(await pendingAfter(p, 100), true);
  q.close();
  await rejects(p, ClosedError);
  await q.joinThread();
});

test("Queue: close() of this process's handle leaves a worker's handle working", async () => {
  const q = new Queue<number>();
  const out = new Queue<number>();
  const w = spawn(workerUrl("q_echo_once.ts"), { args: [q, out] });
  await q.put(42);
  q.close();
  await q.joinThread();
  strictEqual(await out.get({ timeout: 30_000 }), 42);
  strictEqual((await w.status).code, 0);
  out.close();
});

// ------------------------------------------------------------ aborts

test("Queue.get() with an already-aborted signal rejects at once and consumes nothing", async () => {
  await using q = new Queue<number>();
  await q.put(1);
  await q.joinThread();
  const signal = AbortSignal.abort();
  await rejects(q.get({ signal }), isAbortError);
  await rejects(q.getMany({ signal }), isAbortError);
  strictEqual(q.qsize(), 1);
  strictEqual(q.getNowait(), 1);
});

test("Queue.put() with an already-aborted signal rejects at once and puts nothing", async () => {
  await using q = new Queue<number>();
  const signal = AbortSignal.abort();
  await rejects(q.put(1, { signal }), isAbortError);
  await rejects(q.putMany([1, 2], { signal }), isAbortError);
  strictEqual(q.qsize(), 0);
  await rejects(q.get({ timeout: 100 }), Empty);
});

test("Queue.get() aborted while waiting rejects with AbortError; a later item is still gettable", async () => {
  await using q = new Queue<number>();
  const ac = new AbortController();
  const p = q.get({ signal: ac.signal });
  strictEqual(await pendingAfter(p, 100), true);
  ac.abort();
  await rejects(p, isAbortError);
  await q.put(7);
  strictEqual(await q.get({ timeout: 5000 }), 7);
  strictEqual(q.qsize(), 0);
});

test("Queue.put() aborted while waiting for a slot rejects with AbortError and puts nothing", async () => {
  await using q = new Queue<number>({ maxsize: 1 });
  await q.put(1);
  const ac = new AbortController();
  const p = q.put(2, { signal: ac.signal });
  strictEqual(await pendingAfter(p, 100), true);
  ac.abort();
  await rejects(p, isAbortError);
  strictEqual(q.qsize(), 1);
  strictEqual(await q.get({ timeout: 5000 }), 1);
  await rejects(q.get({ timeout: 100 }), Empty);
  strictEqual(q.qsize(), 0);
});

test("Queue.get() aborted while a worker's item arrives: no item lost or duplicated", async () => {
  await using q = new Queue<number>();
  await using done = new Queue<string>();
  const got: number[] = [];
  let aborted = 0;
  const ac = new AbortController();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 5; i++) {
    pending.push(
      q.get({ signal: ac.signal }).then((x) => {
        got.push(x);
      }, (e) => {
        ok(isAbortError(e), `expected AbortError, got ${e}`);
        aborted++;
      }),
    );
  }
  await using w = spawn(workerUrl("q_put.ts"), {
    args: [q, range(0, 20), { done, flush: true }],
  });
  strictEqual(await done.get(), "done");
  ac.abort();
  await Promise.all(pending);
  strictEqual(got.length + aborted, 5);
  while (got.length < 20) got.push(await q.get({ timeout: 5000 }));
  deepStrictEqual([...got].sort((a, b) => a - b), range(0, 20));
  await rejects(q.get({ timeout: 50 }), Empty);
  strictEqual((await w.status).code, 0);
});

// ------------------------------------------------------------ timeouts, maxsize

test("Queue: timeout 0 and negative are a single attempt", async () => {
  await using q = new Queue<number>({ maxsize: 1 });
  await assertImmediate(() => q.get({ timeout: 0 }), Empty);
  await assertImmediate(() => q.get({ timeout: -5 }), Empty);
  await assertImmediate(() => q.getMany({ timeout: -1 }), Empty);
  await q.put(1, { timeout: 0 });
  await assertImmediate(() => q.put(2, { timeout: 0 }), Full);
  await assertImmediate(() => q.put(2, { timeout: -100 }), Full);
  await q.joinThread();
  strictEqual(await q.get({ timeout: 0 }), 1);
  await q.put(3, { timeout: -1 });
  await q.joinThread();
  strictEqual(await q.get({ timeout: -1 }), 3);
});

test("Queue: a NaN timeout is a RangeError; Infinity waits", async () => {
  await using q = new Queue<number>();
  await rejects(q.get({ timeout: NaN }), RangeError);
  await rejects(q.put(1, { timeout: NaN }), RangeError);
  await rejects(q.getMany({ timeout: NaN }), RangeError);
  strictEqual(q.qsize(), 0);
  const p = q.get({ timeout: Infinity });
  strictEqual(await pendingAfter(p, 200), true);
  await q.put(9, { timeout: Infinity });
  strictEqual(await p, 9);
});

test("Queue constructor rejects maxsize NaN, 1.5 and 2**31 with RangeError", () => {
  throws(() => new Queue({ maxsize: NaN }), RangeError);
  throws(() => new Queue({ maxsize: 1.5 }), RangeError);
  throws(() => new Queue({ maxsize: 2 ** 31 }), RangeError);
  throws(() => new JoinableQueue({ maxsize: NaN }), RangeError);
});

test("Queue: maxsize 0 and negative mean unbounded, maxsize property 0", async () => {
  for (const maxsize of [0, -1, -1000, undefined]) {
    await using q = new Queue<number>({ maxsize });
    strictEqual(q.maxsize, 0);
    q.putNowait(0);
    await q.putMany(range(1, 100));
    strictEqual(q.qsize(), 100);
    strictEqual(q.full(), false);
    const got: number[] = [];
    while (got.length < 100) got.push(...await q.getMany({ timeout: 5000 }));
    deepStrictEqual(got, range(0, 100));
  }
  await using big = new Queue<number>({ maxsize: 2 ** 31 - 1 });
  strictEqual(big.maxsize, 2 ** 31 - 1);
  await using five = new Queue<number>({ maxsize: 5 });
  strictEqual(five.maxsize, 5);
});

// ------------------------------------------------------------ many processes

test("Queue keeps per-producer FIFO order with 3 worker producers of 10,000 items", async () => {
  await using q = new Queue<[number, number]>();
  const workers = [0, 1, 2].map((id) =>
    spawn(workerUrl("q_producer.ts"), { args: [q, id, 10_000] })
  );
  try {
    const next = [0, 0, 0];
    let total = 0;
    while (total < 30_000) {
      for (const [id, i] of await q.getMany({ timeout: 30_000 })) {
        strictEqual(
          i,
          next[id],
          `producer ${id}: got ${i}, expected ${next[id]}`,
        );
        next[id]++;
        total++;
      }
    }
    deepStrictEqual(next, [10_000, 10_000, 10_000]);
    await rejects(q.get({ timeout: 50 }), Empty);
  } finally {
    for (const w of workers) strictEqual((await w.status).code, 0);
  }
});

test("Queue delivers 50,000 items from 4 producer to 4 consumer processes exactly once", async () => {
  const PER = 12_500;
  await using q = new Queue<[number, number] | null>({ maxsize: 1000 });
  await using results = new Queue<[number, number][]>();
  const consumers = range(0, 4).map(() =>
    spawn(workerUrl("q_consumer.ts"), { args: [q, results] })
  );
  const producers = range(0, 4).map((id) =>
    spawn(workerUrl("q_producer.ts"), { args: [q, id, PER] })
  );
  try {
    for (const w of producers) strictEqual((await w.status).code, 0);
    for (let i = 0; i < 4; i++) await q.put(null);
    const seen = range(0, 4).map(() => new Uint8Array(PER));
    let total = 0;
    for (let c = 0; c < 4; c++) {
      const got = await results.get({ timeout: 50_000 });
      // Within one consumer, each producer's items come in increasing order.
      const last = [-1, -1, -1, -1];
      for (const [id, i] of got) {
        ok(i > last[id], `consumer got ${id}:${i} after ${id}:${last[id]}`);
        last[id] = i;
        strictEqual(seen[id][i], 0, `item ${id}:${i} delivered twice`);
        seen[id][i] = 1;
        total++;
      }
    }
    strictEqual(total, 4 * PER);
    for (const s of seen) ok(s.every((b) => b === 1));
  } finally {
    for (const w of consumers) strictEqual((await w.status).code, 0);
  }
});

test("Queue backpressure: a worker producer blocked by maxsize 2 resumes when the parent gets", async () => {
  await using q = new Queue<number>({ maxsize: 2 });
  await using done = new Queue<string>();
  await using w = spawn(workerUrl("q_put.ts"), {
    args: [q, range(0, 10), { done }],
  });
  const t0 = performance.now();
  while (q.qsize() < 2) {
    ok(performance.now() - t0 < 30_000, "the worker never filled the queue");
    await sleep(10);
  }
  await sleep(300);
  strictEqual(q.qsize(), 2);
  strictEqual(q.full(), true);
  strictEqual(done.qsize(), 0);
  const got: number[] = [];
  for (let i = 0; i < 10; i++) {
    got.push(await q.get({ timeout: 30_000 }));
    ok(q.qsize() <= 2);
  }
  deepStrictEqual(got, range(0, 10));
  strictEqual(await done.get({ timeout: 30_000 }), "done");
  strictEqual((await w.status).code, 0);
});

test("Queue: a worker that returns with buffered data stays alive until it is flushed", async () => {
  const COUNT = 128;
  const SIZE = 64 * 1024; // 8 MiB in all, well beyond the pipe's capacity
  await using q = new Queue<Uint8Array>();
  await using done = new Queue<string>();
  await using w = spawn(workerUrl("q_bulk.ts"), {
    args: [q, COUNT, SIZE, { done }],
  });
  strictEqual(await done.get({ timeout: 30_000 }), "buffered");
  strictEqual(await pendingAfter(w.status, 500), true);
  for (let i = 0; i < COUNT; i++) {
    const item = await q.get({ timeout: 30_000 });
    strictEqual(item.length, SIZE);
    ok(item.every((b) => b === (i & 0xff)), `item ${i} has wrong bytes`);
  }
  strictEqual((await w.status).code, 0);
  await rejects(q.get({ timeout: 50 }), Empty);
});

test("Queue.cancelJoinThread() lets a worker with a full, unread pipe exit promptly", async () => {
  await using q = new Queue<Uint8Array>();
  await using done = new Queue<string>();
  await using w = spawn(workerUrl("q_bulk.ts"), {
    args: [q, 80, 64 * 1024, { cancel: true, done }], // 5 MiB, nobody reads
  });
  strictEqual(await done.get({ timeout: 30_000 }), "buffered");
  const status = await withTimeout(
    w.status,
    5_000,
    "the worker's exit after cancelJoinThread()",
  );
  strictEqual(status.code, 0);
  // What was written arrives whole and in order; what was not gave its
  // slots back when the worker exited.
  const warn = countTornWarnings();
  try {
    for (let i = 0;; i++) {
      const item = await q.get({ timeout: 500 }).catch((e) => e);
      if (item instanceof Empty) break;
      ok(item instanceof Uint8Array && item.every((b) => b === (i & 0xff)));
    }
  } finally {
    warn.restore();
  }
  strictEqual(q.qsize(), 0);
});

test("Queue: a worker killed with SIGKILL while blocked in get() does not disturb other consumers", async () => {
  await using q = new Queue<number | null>();
  await using results = new Queue<unknown>();
  await using a = spawn(workerUrl("q_get_report.ts"), { args: [q, results] });
  strictEqual(await results.get({ timeout: 30_000 }), "ready");
  await sleep(200); // a is now waiting in get()
  a.kill("SIGKILL");
  const sa = await a.status;
  strictEqual(sa.success, false);
  strictEqual(sa.signal, "SIGKILL");

  await using b = spawn(workerUrl("q_get_report.ts"), { args: [q, results] });
  strictEqual(await results.get({ timeout: 30_000 }), "ready");
  await q.putMany([1, 2, 3, null]);
  strictEqual(await results.get({ timeout: 30_000 }), 1);
  strictEqual(await results.get({ timeout: 30_000 }), 2);
  strictEqual(await results.get({ timeout: 30_000 }), 3);
  strictEqual((await b.status).code, 0);
  await q.put(4);
  strictEqual(await q.get({ timeout: 5000 }), 4);
});

// ------------------------------------------------------------ flushing, iteration, disposal

test("Queue: for await ends when the queue is closed", async () => {
  const q = new Queue<number>();
  await q.putMany([1, 2, 3]);
  const seen: number[] = [];
  for await (const x of q) {
    seen.push(x);
    if (seen.length === 3) q.close();
  }
  deepStrictEqual(seen, [1, 2, 3]);
  strictEqual(q.closed, true);
});

test("Queue: for await waiting for an item ends when close() is called elsewhere", async () => {
  const q = new Queue<number>();
  const seen: number[] = [];
  const loop = (async () => {
    for await (const x of q) seen.push(x);
  })();
  await q.put(1);
  const t0 = performance.now();
  while (seen.length < 1) {
    ok(performance.now() - t0 < 10_000);
    await sleep(10);
  }
  q.close();
  await loop;
  deepStrictEqual(seen, [1]);
});

test("Queue: await using closes the queue at the end of the block", async () => {
  let ref: Queue<number>;
  {
    await using q = new Queue<number>();
    ref = q;
    await q.put(1);
    strictEqual(await q.get(), 1);
    strictEqual(q.closed, false);
  }
  strictEqual(ref.closed, true);
  await rejects(ref.put(2), ClosedError);
});

test("Queue: await using flushes what was put before the close", async () => {
  await using out = new Queue<Uint8Array>();
  let w;
  {
    await using q = new Queue<Uint8Array>();
    w = spawn(workerUrl("q_echo_once.ts"), { args: [q, out] });
    // 3 MiB: more than the pipe holds, so the flush needs the worker to read.
    await q.put(new Uint8Array(3 * 1024 * 1024).fill(3));
  }
  const got = await out.get({ timeout: 30_000 });
  strictEqual(got.length, 3 * 1024 * 1024);
  ok(got.every((b) => b === 3));
  strictEqual((await w.status).code, 0);
});

test("Queue.joinThread() resolves only after the buffer is flushed", async () => {
  await using q = new Queue<Uint8Array>();
  await q.put(new Uint8Array([1]));
  await q.put(new Uint8Array([2]));
  await q.put(new Uint8Array([3]));
  await q.joinThread();
  // Flushed: the items are in the pipe, so the non-waiting get finds them.
  deepStrictEqual(q.getNowait(), new Uint8Array([1]));
  deepStrictEqual(q.getNowait(), new Uint8Array([2]));
  deepStrictEqual(q.getNowait(), new Uint8Array([3]));

  const big = new Uint8Array(3 * 1024 * 1024).fill(7); // beyond the pipe's capacity
  await q.put(big);
  const flushed = q.joinThread();
  strictEqual(await pendingAfter(flushed, 300), true);
  const got = await q.get({ timeout: 30_000 });
  strictEqual(got.length, big.length);
  ok(got.every((b) => b === 7));
  await withTimeout(flushed, 10_000, "joinThread() after the reader drained");
});

test("Queue.getNowait() finishes an item larger than the pipe that this process's own feeder is still writing", async () => {
  await using q = new Queue<Uint8Array>();
  const big = new Uint8Array(3 * 1024 * 1024).fill(9); // beyond the pipe's capacity
  await q.put(big);
  // The feeder has filled the pipe and waits for room (it cannot run while
  // getNowait() reads synchronously, so getNowait() writes the rest itself).
  await setTimeout(100);
  const got = q.getNowait();
  strictEqual(got.length, big.length);
  ok(got.every((b) => b === 9));
  await withTimeout(q.joinThread(), 10_000, "joinThread() after getNowait()");
  throws(() => q.getNowait(), Empty);
});

test("Queue (msgpack) carries 120 big Uint8Arrays from a worker intact while its payload buffers are reused", async () => {
  const SIZES = [300 * 1024, 300 * 1024, 40 * 1024, (1 << 20) + 3];
  await using q = new Queue<Uint8Array>({ maxsize: 6 });
  const w = spawn(workerUrl("q_big_mixed.ts"), { args: [q, 120] });
  const got: Uint8Array[] = [];
  for (let i = 0; i < 120; i++) {
    // A slow reader: the pipe stays full and the worker's feeder waits for
    // room in the middle of its frames while the worker encodes more items.
    await setTimeout(2);
    got.push(await q.get({ timeout: 30_000 }));
  }
  strictEqual((await w.status).code, 0);
  // Checked only now: an item that shared a buffer with a later one would
  // have been overwritten by then.
  for (let i = 0; i < 120; i++) {
    strictEqual(got[i].length, SIZES[i % SIZES.length], `item ${i}'s size`);
    const fill = (i * 7) & 0xff;
    ok(got[i].every((b) => b === fill), `item ${i}'s bytes`);
  }
  got[0].fill(1);
  ok(got[4].every((b) => b === (4 * 7 & 0xff)), "items share memory");
});

test("Queue: 24 MiB of puts with no reader neither block for long nor fail; every item comes back in order", async () => {
  await using q = new Queue<Uint8Array>();
  // The pipe holds 1 MiB: the rest waits in the feeder's buffer. A put may
  // wait once for the feeder, then gives up waiting while nobody reads.
  await withTimeout(
    (async () => {
      for (let i = 0; i < 384; i++) {
        await q.put(new Uint8Array(64 * 1024).fill(i & 0xff));
      }
    })(),
    30_000,
    "384 puts with no reader",
  );
  for (let i = 0; i < 384; i++) {
    const item = await q.get({ timeout: 10_000 });
    strictEqual(item.length, 64 * 1024);
    strictEqual(item[0], i & 0xff, `item ${i}`);
    strictEqual(item[item.length - 1], i & 0xff, `item ${i}`);
  }
});

// ------------------------------------------------------------ putMany / getMany

test("Queue.get()/getNowait()/getMany() reject with what the serializer's decode threw, for that item alone; no other item is lost", async () => {
  const picky = {
    encode: (v: unknown) => new TextEncoder().encode(String(v)),
    decode: (b: Uint8Array) => {
      const s = new TextDecoder().decode(b);
      if (s.startsWith("bad")) throw new SyntaxError(`refused ${s}`);
      return s;
    },
  };
  await using q = new Queue<string>({ maxsize: 10, serializer: picky });
  await q.putMany(["bad1", "ok1", "bad2", "ok2", "ok3", "bad3", "ok4"]);
  await q.joinThread();
  await rejects(q.get(), { name: "SyntaxError", message: "refused bad1" });
  strictEqual(await q.get(), "ok1");
  throws(() => q.getNowait(), { name: "SyntaxError", message: "refused bad2" });
  deepStrictEqual(await q.getMany({ maxItems: 2 }), ["ok2", "ok3"]);
  await rejects(q.getMany(), { name: "SyntaxError", message: "refused bad3" });
  strictEqual(await q.get(), "ok4");
  await q.putMany(["ok5", "bad4", "ok6"]);
  await q.joinThread();
  // A batch hands out the items before a bad one; the bad one comes next.
  deepStrictEqual(await q.getMany({ timeout: 1000 }), ["ok5"]);
  await rejects(q.getMany(), { name: "SyntaxError", message: "refused bad4" });
  deepStrictEqual(await q.getMany(), ["ok6"]);
  await rejects(q.get({ timeout: 50 }), Empty);
  strictEqual(q.qsize(), 0, "slots of the refused items are free");
});

test("Queue.putMany() with one bad item rejects with TypeError and puts nothing", async () => {
  await using q = new Queue<unknown>();
  await rejects(q.putMany([1, 2, () => 3, 4]), (e: unknown) => {
    ok(e instanceof TypeError, `expected a TypeError, got ${e}`);
    ok(e.message.includes("$[2]") || e.message.includes("$"), e.message);
    return true;
  });
  strictEqual(q.qsize(), 0);
  await rejects(q.get({ timeout: 100 }), Empty);
  await q.putMany([1, 2]);
  strictEqual(q.qsize(), 2);
  deepStrictEqual(
    await q.getMany({ maxItems: 2, timeout: 5000 }).then(
      async (a) => a.length === 2 ? a : [...a, await q.get()],
    ),
    [1, 2],
  );
});

test("Queue.getMany() respects maxItems and never returns an empty array", async () => {
  await using q = new Queue<number>();
  await q.putMany([1, 2, 3, 4, 5]);
  await q.joinThread();
  deepStrictEqual(await q.getMany({ maxItems: 2 }), [1, 2]);
  deepStrictEqual(await q.getMany({ maxItems: 1 }), [3]);
  deepStrictEqual(await q.getMany(), [4, 5]);
  strictEqual(q.qsize(), 0);
  await assertTimesOut(() => q.getMany({ timeout: 100 }), Empty, 100);
  await rejects(q.getMany({ maxItems: 0 }), RangeError);
  await rejects(q.getMany({ maxItems: 1.5 }), RangeError);
  // Waits for the first item.
  const p = q.getMany({ timeout: 10_000 });
  strictEqual(await pendingAfter(p, 100), true);
  await q.put(9);
  deepStrictEqual(await p, [9]);
});

test("Queue.getMany() stops at maxBytes, including the item that crosses it", async () => {
  await using q = new Queue<Uint8Array>({ serializer: bytes });
  const items = range(0, 5).map((i) => new Uint8Array(100).fill(i));
  await q.putMany(items);
  await q.joinThread();
  deepStrictEqual(await q.getMany({ maxBytes: 250 }), items.slice(0, 3));
  deepStrictEqual(await q.getMany({ maxBytes: 100 }), items.slice(3, 4));
  deepStrictEqual(await q.getMany({ maxBytes: 1 }), items.slice(4, 5));
  strictEqual(q.qsize(), 0);
  await rejects(q.getMany({ maxBytes: -1 }), RangeError);
});

test("Queue.getMany({ maxBytes: 0 }) still returns one item, never an empty array", async () => {
  await using q = new Queue<Uint8Array>({ serializer: bytes });
  const items = range(0, 2).map((i) => new Uint8Array(10).fill(i));
  await q.putMany(items);
  await q.joinThread();
  // A bounded wait, so that a hang shows as a failure of this test only.
  deepStrictEqual(
    await q.getMany({ maxBytes: 0, timeout: 2_000 }),
    items.slice(0, 1),
  );
  strictEqual(q.qsize(), 1);
  deepStrictEqual(await q.getMany({ timeout: 2_000 }), items.slice(1));
});

// ------------------------------------------------------------ bad input

test("Queue.put() of a function rejects with TypeError naming the path; the queue is unchanged", async () => {
  await using q = new Queue<unknown>();
  const bad = { a: [1, 2, { fn: () => {} }] };
  await rejects(q.put(bad), (e: unknown) => {
    ok(e instanceof TypeError, `expected a TypeError, got ${e}`);
    ok(e.message.includes("$.a[2].fn"), e.message);
    return true;
  });
  throws(() => q.putNowait(bad), (e: unknown) => {
    ok(e instanceof TypeError, `expected a TypeError, got ${e}`);
    ok(e.message.includes("$.a[2].fn"), e.message);
    return true;
  });
  await rejects(q.put(Symbol("s")), TypeError);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  await rejects(q.put(circular), TypeError);
  strictEqual(q.qsize(), 0);
  await rejects(q.get({ timeout: 100 }), Empty);
  await q.put("ok");
  strictEqual(await q.get({ timeout: 5000 }), "ok");
});

test("Queue.put() of a bad item rejects with TypeError on a bounded queue without taking a slot", async () => {
  await using q = new Queue<unknown>({ maxsize: 1 });
  await rejects(q.put(() => 1), TypeError);
  throws(() => q.putNowait(() => 1), TypeError);
  strictEqual(q.qsize(), 0);
  strictEqual(q.full(), false);
  q.putNowait(1);
  strictEqual(q.full(), true);
  strictEqual(await q.get(), 1);
});

test("Queue.put() of a queue rejects with TypeError", async () => {
  await using q = new Queue<unknown>();
  await using inner = new Queue<unknown>();
  const simple = new SimpleQueue<unknown>();
  try {
    await rejects(q.put(inner), TypeError);
    await rejects(q.put({ nested: [inner] }), TypeError);
    await rejects(q.put(simple), TypeError);
    throws(() => q.putNowait(inner), TypeError);
    await rejects(q.putMany([1, inner]), TypeError);
    strictEqual(q.qsize(), 0);
  } finally {
    simple.close();
  }
});

test("Queue.put() with the bytes serializer rejects a non-Uint8Array with TypeError", async () => {
  await using q = new Queue<unknown>({ serializer: bytes });
  await rejects(q.put("text"), TypeError);
  await rejects(q.put([1, 2]), TypeError);
  strictEqual(q.qsize(), 0);
});

// ------------------------------------------------------------ big items

async function echo64MiB(useBytes: boolean): Promise<void> {
  const SIZE = 64 * 1024 * 1024;
  const options = useBytes ? { serializer: bytes } : {};
  await using input = new Queue<Uint8Array>(options);
  await using output = new Queue<Uint8Array>(options);
  await using w = spawn(workerUrl("q_echo_once.ts"), {
    args: [input, output],
  });
  const data = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 4096) data[i] = (i >>> 12) & 0xff;
  data[SIZE - 1] = 0xab;
  await input.put(data);
  const got = await output.get({ timeout: 50_000 });
  ok(got instanceof Uint8Array);
  strictEqual(got.length, SIZE);
  let bad = -1;
  for (let i = 0; i < SIZE; i++) {
    if (got[i] !== data[i]) {
      bad = i;
      break;
    }
  }
  strictEqual(bad, -1, `first differing byte at ${bad}`);
  strictEqual((await w.status).code, 0);
}

test("Queue carries a 64 MiB Uint8Array through a worker and back (bytes serializer)", async () => {
  await echo64MiB(true);
});

test("Queue carries a 64 MiB Uint8Array through a worker and back (msgpack)", async () => {
  await echo64MiB(false);
});

// ------------------------------------------------------------ resources

test("Queue: close() releases the queue's fds and shared memory while a worker still uses it", async () => {
  const fdsBefore = openFds();
  const mapsBefore = queueMappings();
  const q = new Queue<number>();
  const out = new Queue<number>();
  strictEqual(queueMappings(), mapsBefore + 2);
  const w = spawn(workerUrl("q_echo_once.ts"), { args: [q, out] });
  await q.put(5);
  q.close();
  await q.joinThread();
  // The worker still has the queue it was given.
  strictEqual(await out.get({ timeout: 30_000 }), 5);
  out.close();
  await out.joinThread();
  strictEqual((await w.status).code, 0);
  await sleep(0);
  deepStrictEqual(openFds(), fdsBefore);
  strictEqual(queueMappings(), mapsBefore);
});

test("put() takes a snapshot: one buffer reused for five puts delivers five different items (issue 12, item 5)", async () => {
  for (const Kind of [Queue, SimpleQueue]) {
    const q = new Kind<Uint8Array>({ serializer: bytes });
    try {
      const buf = new Uint8Array(4);
      for (const c of "abcde") {
        buf.fill(c.charCodeAt(0));
        await q.put(buf);
      }
      const got: string[] = [];
      for (let i = 0; i < 5; i++) {
        got.push(new TextDecoder().decode(await q.get()));
      }
      deepStrictEqual(got, ["aaaa", "bbbb", "cccc", "dddd", "eeee"], Kind.name);
    } finally {
      q.close();
    }
  }
  // A custom encoder that reuses its output buffer.
  const out = new Uint8Array(1);
  const reusing = {
    encode: (v: unknown) => (out[0] = v as number, out),
    decode: (b: Uint8Array) => b[0],
  };
  await using q = new Queue<number>({ serializer: reusing });
  await q.putMany([1, 2, 3]);
  deepStrictEqual(await q.getMany({ maxItems: 3, timeout: 1000 }), [1, 2, 3]);
});

test("an encode() result that is not a Uint8Array is a TypeError at put, and no slot is taken (issue 12, item 5)", async () => {
  for (
    const result of [new ArrayBuffer(4), null, "text", [1, 2], undefined]
  ) {
    const odd = {
      encode: () => result as unknown as Uint8Array,
      decode: () => 0,
    };
    await using q = new Queue<number>({ maxsize: 2, serializer: odd });
    const what = `encode() returning ${String(result)}`;
    await rejects(q.put(1), TypeError, what);
    throws(() => q.putNowait(1), TypeError, what);
    await rejects(q.putMany([1, 2]), TypeError, what);
    await rejects(q.put(1), /not a Uint8Array/, what);
    strictEqual(q.qsize(), 0, what);
    strictEqual(q.full(), false, what);
    using s = new SimpleQueue<number>({ serializer: odd });
    await rejects(s.put(1), TypeError, what);
  }
});

test("after cancelJoinThread(), puts are still written while the process lives: a JoinableQueue gets them and join() resolves (issue 12, item 2)", async () => {
  await using q = new JoinableQueue<number>();
  await using report = new Queue<string>();
  await using w = spawn(workerUrl("cancel_then_put.ts"), {
    args: [q, report],
  });
  strictEqual(await report.get({ timeout: 30_000 }), "put");
  for (const n of [1, 2, 3]) {
    strictEqual(await q.get({ timeout: 10_000 }), n);
    q.taskDone();
  }
  await q.join({ timeout: 5_000 });
  strictEqual(q.qsize(), 0);
  strictEqual((await w.status).code, 0);
});

test("cancelJoinThread() in the middle of a big frame finishes the frame while the process lives: the queue is not wedged (issue 12, item 3)", async () => {
  await using q = new Queue<Uint8Array>({ serializer: bytes });
  await using report = new Queue<string>();
  await using w = spawn(workerUrl("cancel_mid_frame.ts"), {
    args: [q, report],
  });
  strictEqual(await report.get({ timeout: 30_000 }), "cancelled");
  const item = await q.get({ timeout: 10_000 });
  strictEqual(item.length, 64 << 20);
  ok(item.every((b) => b === 7), "the item's bytes");
  ok(await pendingAfter(w.status, 0), "the worker was still alive");
  deepStrictEqual(q.stats(), { tornFrames: 0, lostFrames: 0 });
});
