// putNowait() and put() write through to the pipe when the write lock is free
// and the pipe has room (issue 13, item 3): a synchronous loop of puts neither
// starves its own feeder nor buffers without bound, and order holds when
// writes through and the feeder's batches interleave.
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { bytes, Queue, spawn, type WorkerProcess } from "../mod.ts";
import { withTimeout, workerUrl } from "./_util.ts";

const MARK = Symbol.for("@mp/queues.queue");
type Item = { i: number; data: Uint8Array } | null;

/** Bytes written to the queue's pipe so far, by every process. */
function bytesWritten(q: Queue<Item>): number {
  return (q as unknown as Record<
    symbol,
    { channel: { bytesWritten(): number } }
  >)[
    MARK
  ].channel.bytesWritten();
}

function item(i: number, size: number): Item {
  return { i, data: new Uint8Array(size).fill(i & 0xff) };
}

/**
 * Ends the items with null and checks the checker's report: `count` items
 * of `bytes` bytes in all, in order and intact, within `timeoutMs`; the
 * checker exits with 0.
 */
async function expectAll(
  q: Queue<Item>,
  results: Queue<unknown>,
  worker: WorkerProcess,
  count: number,
  bytes: number,
  timeoutMs: number,
): Promise<void> {
  q.putNowait(null);
  deepStrictEqual(await results.get({ timeout: timeoutMs }), {
    count,
    bytes,
    bad: 0,
  });
  strictEqual((await worker.status).code, 0);
}

async function startChecker(q: Queue<Item>, results: Queue<unknown>) {
  const worker = spawn(workerUrl("q_check_items.ts"), { args: [q, results] });
  strictEqual(await results.get({ timeout: 30_000 }), "ready");
  return worker;
}

Deno.test("a synchronous putNowait() loop of 1 MiB items reaches a reader in another process before the loop yields", async () => {
  await using q = new Queue<Item>();
  await using results = new Queue<unknown>();
  const worker = await startChecker(q, results);
  const n = 48, size = 1 << 20;
  const items = Array.from({ length: n }, (_, i) => item(i, size));
  for (const x of items) q.putNowait(x);
  // Not one await since the first putNowait: what is in the pipe got there
  // from inside the loop. At most what the pipe holds (1 MiB) plus the
  // buffer a putNowait may leave unwritten (1 MiB) plus one item is not.
  const written = bytesWritten(q);
  ok(written >= (n - 3) * size, `${written} bytes written of ${n * size}`);
  await expectAll(q, results, worker, n, n * size, 30_000);
});

Deno.test("a synchronous putNowait() loop with no reader buffers and does not hang; a reader started later gets every item in order", async () => {
  await using q = new Queue<Item>();
  await using results = new Queue<unknown>();
  const n = 200, size = 64 * 1024;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) q.putNowait(item(i, size));
  const ms = performance.now() - t0;
  // The pipe fills (1 MiB); a putNowait waits for room at most 50 ms once,
  // then no more until the pipe moves again (not 50 ms per item).
  ok(ms < 3000, `the loop took ${ms.toFixed(0)} ms`);
  const worker = await startChecker(q, results);
  await expectAll(q, results, worker, n, n * size, 30_000);
});

Deno.test("puts and putNowaits of mixed sizes, written through and by the feeder in turn, arrive in order and intact", async () => {
  await using q = new Queue<Item>();
  await using results = new Queue<unknown>();
  const worker = await startChecker(q, results);
  const sizes = [10, 3 * 1024 * 1024 + 5, 100 * 1024, 70_000, 1, 1 << 20, 5000];
  let bytes = 0;
  const n = 120;
  for (let i = 0; i < n; i++) {
    const size = sizes[i % sizes.length];
    bytes += size;
    // Runs of synchronous putNowait, awaited puts, and yields in between.
    if (i % 5 < 3) q.putNowait(item(i, size));
    else await q.put(item(i, size));
    if (i % 11 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  await expectAll(q, results, worker, n, bytes, 60_000);
});

Deno.test("a synchronous putNowait() loop of 100 KiB items stays paced after the pipe took only part of a frame", async () => {
  await using q = new Queue<Item>();
  await using results = new Queue<unknown>();
  const worker = await startChecker(q, results);
  const n = 300, size = 100 * 1024;
  for (let i = 0; i < n; i++) q.putNowait(item(i, size));
  // No await since the loop began: at most what the pipe holds (1 MiB),
  // the 1 MiB a putNowait may leave unwritten and one item are not written.
  const written = bytesWritten(q);
  ok(
    written >= n * size - (2 << 20) - size - 64 * 1024,
    `${written} bytes written of ${n * size}`,
  );
  await expectAll(q, results, worker, n, n * size, 60_000);
});

Deno.test("joinThread() waits for items that went into a write the full pipe took nothing of", async () => {
  // A worker fills the pipe with whole frames (256 of 4 KiB: 1 MiB) and
  // exits: the pipe is full and the write lock free.
  const q = new Queue<Uint8Array>({ serializer: bytes });
  try {
    await joinWaits(q);
  } finally {
    // A failed check leaves items unwritten: close without waiting for them.
    q.cancelJoinThread();
    q.close();
  }
});

async function joinWaits(q: Queue<Uint8Array>): Promise<void> {
  const filler = spawn(workerUrl("fill_pipe.ts"), { args: [q, 256, 4092] });
  strictEqual(
    (await withTimeout(filler.status, 30_000, "the filler's exit")).code,
    0,
  );
  const before = bytesWritten(q as unknown as Queue<Item>);
  strictEqual(before, 1 << 20);
  // Ten items buffered, then a joinThread() for them, then a putMany that
  // writes through (64 KiB buffered): the pipe takes nothing of it.
  await q.putMany(Array.from({ length: 10 }, () => new Uint8Array(100)));
  let joined = false;
  const join = q.joinThread().then(() => joined = true);
  const more = q.putMany(
    Array.from({ length: 20 }, () => new Uint8Array(4092)),
  );
  await new Promise((r) => setTimeout(r, 300));
  strictEqual(bytesWritten(q as unknown as Queue<Item>), before);
  strictEqual(joined, false, "joinThread() resolved, its items not written");
  // A reader drains the pipe: every item arrives, and joinThread resolves.
  const drain = async () => {
    let got = 0;
    while (got < 256 + 30) {
      got += (await q.getMany({ maxItems: 1000, timeout: 10_000 })).length;
    }
    await more;
    await join;
    return got;
  };
  strictEqual(await withTimeout(drain(), 30_000, "draining"), 286);
}
