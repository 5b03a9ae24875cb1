// The futex counter of a native queue (queues/native/_counter.ts).

import { ok, strictEqual } from "node:assert/strict";
import { COUNTER_MAX, FutexCounter } from "../../queues/native/_counter.ts";
import { COUNTERS } from "../../queues/native/_layout.ts";
import { timed, withPage } from "./_page.ts";

Deno.test("FutexCounter: takes as many as it has, up to n, in one step; post gives n back", () =>
  withPage((page) => {
    const c = new FutexCounter(page, COUNTERS);
    c.init(5);
    strictEqual(c.value(), 5);
    strictEqual(c.tryTake(3), 3);
    strictEqual(c.tryTake(3), 2);
    strictEqual(c.tryTake(1), 0);
    strictEqual(c.value(), 0);
    c.post(4);
    strictEqual(c.value(), 4);
    strictEqual(page.i32[COUNTERS], 4, "the value lives in the shared word");
    c.init(COUNTER_MAX);
    strictEqual(c.value(), 2 ** 31 - 1);
  }));

Deno.test("FutexCounter.wait() ends when a post makes the value positive, or at its deadline", () =>
  withPage(async (page) => {
    const c = new FutexCounter(page, COUNTERS + 2);
    c.init(0);
    const t = await timed(c.wait({ deadline: performance.now() + 30 }));
    strictEqual(t.value, false);
    ok(t.ms >= 29, `${t.ms} ms`);
    const waiting = c.wait({ deadline: performance.now() + 10_000 });
    setTimeout(() => c.post(1), 20);
    const w = await timed(waiting);
    strictEqual(w.value, true);
    ok(w.ms < 200, `woken after ${w.ms} ms`);
    strictEqual(c.value(), 1, "waiting takes nothing");
  }));

Deno.test("FutexCounter.waitZero() ends when the last one is taken", () =>
  withPage(async (page) => {
    const c = new FutexCounter(page, COUNTERS);
    c.init(2);
    const waiting = c.waitZero({ deadline: performance.now() + 10_000 });
    setTimeout(() => c.tryTake(1), 10);
    setTimeout(() => c.tryTake(1), 30);
    let settled = false;
    waiting.then(() => settled = true);
    await new Promise((r) => setTimeout(r, 20));
    strictEqual(settled && c.value() !== 0, false, "woke while one was left");
    const w = await timed(waiting);
    strictEqual(c.value(), 0);
    ok(w.ms < 200, `woken after ${w.ms} ms`);
  }));
