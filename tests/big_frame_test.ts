// A get that has begun receiving a big frame honours its timeout, its signal
// and close(): the frame is parked in the queue's shared memory for whoever
// reads next, and nothing is lost; getNowait() never blocks the event loop
// (issue 12, item 6).

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { bytes, ClosedError, Empty, Queue, spawn } from "../mod.ts";
import { guardedTest as test, workerUrl } from "./_util.ts";

const SIZE = 64 << 20;

test("a writer stopped in the middle of a 64 MiB item: get()'s timeout, signal and close() act, getNowait() does not block, and the item then arrives whole in another process", async () => {
  const q = new Queue<Uint8Array>({ serializer: bytes });
  await using report = new Queue<string>();
  await using gate = new Queue<string>();
  await using results = new Queue<[number, boolean]>();
  await using writer = spawn(workerUrl("big_writer.ts"), {
    args: [q, report],
  });
  await using reader = spawn(workerUrl("gated_reader.ts"), {
    args: [q, gate, results],
  });
  try {
    strictEqual(await report.get({ timeout: 30_000 }), "writing");
    writer.kill("SIGSTOP");
    // The timeout: the get takes what is in the pipe, then gives up.
    let t = performance.now();
    await rejects(q.get({ timeout: 500 }), Empty);
    let ms = performance.now() - t;
    ok(ms >= 500 && ms < 1500, `the 500 ms timeout fired after ${ms} ms`);
    // getNowait() takes the parked frame over, finds no more, parks it.
    t = performance.now();
    let error: unknown;
    try {
      q.getNowait();
    } catch (e) {
      error = e;
    }
    ms = performance.now() - t;
    ok(error instanceof Empty, String(error));
    ok(ms < 300, `getNowait() blocked for ${ms} ms`);
    // The signal.
    const controller = new AbortController();
    const aborted = q.get({ signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    t = performance.now();
    await rejects(aborted, { name: "AbortError" });
    ms = performance.now() - t;
    ok(ms < 600, `the abort acted after ${ms} ms`);
    // close().
    const closed = q.get();
    setTimeout(() => q.close(), 100);
    t = performance.now();
    await rejects(closed, ClosedError);
    ms = performance.now() - t;
    ok(ms < 600, `close() acted after ${ms} ms`);
  } finally {
    q.close();
    writer.kill("SIGCONT");
  }
  // Nothing was lost: another process takes the parked frame over and
  // receives the rest.
  await gate.put("go");
  deepStrictEqual(await results.get({ timeout: 30_000 }), [SIZE, true]);
  strictEqual((await writer.status).code, 0);
  strictEqual((await reader.status).code, 0);
});
