// Thousands of waits pending in one process (issue 12, item 7): they must
// not starve the FFI helper threads, delay other calls' timeouts and aborts,
// or slow a worker's round trips; close() wakes them at once. The bounds are
// generous (the machine may be busy); at 643a342 the thread count alone
// fails (11 threads before the 3,000 gets, 42 with them), and a 100 ms
// timeout took seconds. bench/waits.ts measures the figures.

import { ok, strictEqual } from "node:assert/strict";
import { ClosedError, Empty, Queue, spawn } from "../mod.ts";
import { guardedTest as test, sleep, withTimeout, workerUrl } from "./_util.ts";

/** This process's thread count. */
function threads(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(status.match(/^Threads:\s+(\d+)/m)![1]);
}

/** Milliseconds until `promise` rejects, and with what. */
async function rejectsAfter(
  t0: number,
  promise: Promise<unknown>,
): Promise<[number, unknown]> {
  try {
    await promise;
  } catch (e) {
    return [performance.now() - t0, e];
  }
  throw new Error("resolved; a rejection was expected");
}

test("3,000 get()s pending on 300 idle queues: timeouts, aborts and a worker round trip act at once, on no more threads", async () => {
  await using input = new Queue<number>();
  await using output = new Queue<number>();
  await using worker = spawn(workerUrl("echo.ts"), { args: [input, output] });
  // A round trip with nothing pending, warmed up.
  for (let i = 0; i < 20; i++) {
    await input.put(i);
    strictEqual(await output.get({ timeout: 30_000 }), i);
  }
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) {
    await input.put(i);
    await output.get();
  }
  const idle = (performance.now() - t0) / 50;
  const before = threads();

  const idleQueues = Array.from({ length: 300 }, () => new Queue<number>());
  const pending = idleQueues.flatMap((q) =>
    Array.from({ length: 10 }, () => q.get().catch((e) => e))
  );
  let itemsPut = 0;
  let body = false;
  try {
    await sleep(200);
    ok(
      threads() <= before + 2,
      `${before} threads before the 3,000 gets, ${threads()} with them`,
    );
    await using probe = new Queue<number>();
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const [ms, e] = await rejectsAfter(t, probe.get({ timeout: 100 }));
      ok(e instanceof Empty, String(e));
      ok(ms >= 100 && ms < 500, `a 100 ms timeout fired after ${ms} ms`);
    }
    const controller = new AbortController();
    const aborted = probe.get({ signal: controller.signal });
    await sleep(20);
    const t = performance.now();
    controller.abort();
    const [ms, e] = await rejectsAfter(t, aborted);
    strictEqual((e as Error).name, "AbortError");
    ok(ms < 100, `an abort acted after ${ms} ms`);
    const t1 = performance.now();
    for (let i = 0; i < 50; i++) {
      await input.put(i);
      strictEqual(await output.get({ timeout: 30_000 }), i);
    }
    const busy = (performance.now() - t1) / 50;
    // (The ratio is measured in bench/waits.ts; here, a bound that only a
    // starved helper-thread pool misses.)
    ok(
      busy < Math.max(20 * idle, 20),
      `round trip ${busy.toFixed(3)} ms with 3,000 gets pending, ${
        idle.toFixed(3)
      } ms without`,
    );
    // One item wakes exactly one of the gets on its queue.
    await idleQueues[5].put(42);
    itemsPut++;
    await sleep(50);
    strictEqual(
      await withTimeout(Promise.any(pending.slice(50, 60)), 1000, "the item"),
      42,
    );
    body = true;
  } finally {
    const t = performance.now();
    for (const q of idleQueues) q.close();
    const results = await Promise.all(pending);
    const ms = performance.now() - t;
    await input.put(null as unknown as number);
    strictEqual((await worker.status).code, 0);
    // (If an assertion above failed, it is the one to report.)
    if (body) {
      strictEqual(
        results.filter((r) => r instanceof ClosedError).length,
        pending.length - itemsPut,
      );
      ok(ms < 1000, `close() woke 3,000 gets after ${ms} ms`);
    }
  }
});

for (const kind of ["native", "cpython"]) {
  test(`closing a ${kind} queue while another queue's wait sleeps does not unmap a word under the helper thread (the process lives)`, async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", workerUrl("close_beside_wait.ts").pathname, kind],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    strictEqual(
      out.code,
      0,
      `exit ${out.code} ${out.signal}: ${text}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
    strictEqual(text.trim(), "no crash");
  });

  test(`two waits on different ${kind} queues sleep without spinning`, async () => {
    const { cpuUsage } = await import("node:process");
    await using a = new Queue<number>({
      cpython: kind === "cpython",
      maxsize: 1,
    });
    await using b = new Queue<number>({
      cpython: kind === "cpython",
      maxsize: 1,
    });
    await a.put(1);
    await b.put(1);
    const before = cpuUsage();
    const t0 = performance.now();
    const waits = [
      a.put(2, { timeout: 500 }).catch((e) => e),
      b.put(2, { timeout: 500 }).catch((e) => e),
    ];
    for (const e of await Promise.all(waits)) strictEqual(e.name, "Full");
    const wall = performance.now() - t0;
    const used = cpuUsage(before);
    const cpuMs = (used.user + used.system) / 1000;
    // Sleeping costs a few ms; the spin this guards against burned more
    // CPU time than wall time.
    ok(cpuMs < wall / 3, `${cpuMs.toFixed(0)} ms CPU in ${wall.toFixed(0)} ms`);
  });
}
