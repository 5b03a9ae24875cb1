// Pool with real worker processes (issue 16).

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { Pool, WorkerExitError } from "../mod.ts";
import type * as Tasks from "./workers/pool_tasks.ts";
import { openFds } from "./_sys.ts";
import { guardedTest as test, workerUrl } from "./_util.ts";

const TASKS = workerUrl("pool_tasks.ts");

test("Pool.map of 10,000 items returns every result in input order", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, { processes: 2 });
  const items = Array.from({ length: 10_000 }, (_, i) => i);
  deepStrictEqual(await pool.map("square", items), items.map((n) => n * n));
  deepStrictEqual(
    await pool.map("square", items.slice(0, 7), { chunkSize: 3 }),
    [0, 1, 4, 9, 16, 25, 36],
  );
  deepStrictEqual(await pool.map("square", []), []);
  deepStrictEqual(await pool.starmap("add", [[1, 2], [3, 4]]), [3, 7]);
  strictEqual(await pool.apply("add", [20, 22]), 42);
});

test("Pool.imap yields in order and imapUnordered yields every result once", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, { processes: 2 });
  const items = Array.from({ length: 500 }, (_, i) => i);
  const inOrder: number[] = [];
  for await (const r of pool.imap("square", items)) inOrder.push(r);
  deepStrictEqual(inOrder, items.map((n) => n * n));
  const any: number[] = [];
  for await (
    const r of pool.imapUnordered("square", items, { chunkSize: 7 })
  ) any.push(r);
  deepStrictEqual(any.sort((a, b) => a - b), items.map((n) => n * n));
});

test("a task that throws rejects with the worker's error: its class, message, stack and which task", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, { processes: 2 });
  await rejects(pool.map("picky", [1, 2, 13, 4]), (e: Error) => {
    ok(e instanceof RangeError, String(e));
    strictEqual(e.message, "unlucky 13");
    ok(e.stack?.includes("pool_tasks.ts"), e.stack);
    const cause = e.cause as { task: string; index: number; pid: number };
    strictEqual(cause.task, "picky");
    strictEqual(cause.index, 2);
    ok(cause.pid > 0);
    return true;
  });
  await rejects(pool.apply("picky", [14]), (e: Error) => {
    strictEqual(e.name, "CustomError");
    strictEqual(e.message, "custom 14");
    return true;
  });
  const steps: unknown[] = [];
  await rejects(async () => {
    for await (const r of pool.imap("picky", [1, 13, 3])) steps.push(r);
  }, RangeError);
  deepStrictEqual(steps, [1]); // the step before the failing one
  strictEqual(await pool.apply("square", [5]), 25); // the pool goes on
});

test("a worker that exits mid-task fails only its tasks with WorkerExitError; the rest complete and the pool is usable after", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, { processes: 2 });
  const calls = Array.from(
    { length: 8 },
    (_, i) => pool.apply("exitAt", [i, 3, 7]),
  );
  const settled = await Promise.allSettled(calls);
  const failed = settled.filter((s) => s.status === "rejected");
  strictEqual(failed.length, 1, JSON.stringify(settled));
  const reason = (failed[0] as PromiseRejectedResult).reason;
  ok(reason instanceof WorkerExitError, String(reason));
  strictEqual(reason.code, 7);
  strictEqual((settled[3] as PromiseRejectedResult).reason, reason);
  for (const [i, s] of settled.entries()) {
    if (i !== 3) deepStrictEqual(s, { status: "fulfilled", value: i });
  }
  const items = Array.from({ length: 100 }, (_, i) => i);
  deepStrictEqual(await pool.map("square", items), items.map((n) => n * n));
});

test("a worker SIGKILLed mid-task fails that task with WorkerExitError and is replaced", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, { processes: 1 });
  const first = await pool.apply("pid", []);
  const napping = pool.apply("nap", [30_000]);
  await new Promise((r) => setTimeout(r, 300));
  Deno.kill(first, "SIGKILL");
  await rejects(napping, (e: unknown) => {
    ok(e instanceof WorkerExitError, String(e));
    strictEqual(e.pid, first);
    strictEqual(e.signal, "SIGKILL");
    return true;
  });
  const second = await pool.apply("pid", []);
  ok(second !== first, "a new worker");
  strictEqual(await pool.apply("square", [9]), 81);
});

test("maxTasksPerChild replaces a worker after that many tasks", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, {
    processes: 1,
    maxTasksPerChild: 2,
  });
  const pids: number[] = [];
  for (let i = 0; i < 6; i++) pids.push(await pool.apply("pid", []));
  strictEqual(pids[0], pids[1]);
  strictEqual(pids[2], pids[3]);
  strictEqual(pids[4], pids[5]);
  strictEqual(new Set(pids).size, 3, JSON.stringify(pids));
});

test("the initializer runs in every worker before its tasks, with initArgs", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, {
    processes: 2,
    initializer: "init",
    initArgs: [{ greeting: "hello" }],
  });
  const states = await pool.map("getState", Array(20).fill(undefined), {
    chunkSize: 1,
  });
  for (const s of states) deepStrictEqual(s, { greeting: "hello" });
});

test("a module that fails to load, or an initializer that throws, rejects the first call with that error", async () => {
  await using broken = new Pool<typeof Tasks>(
    workerUrl("pool_bad_module.ts"),
    { processes: 2 },
  );
  await rejects(broken.apply("square", [1]), (e: Error) => {
    strictEqual(e.name, "SyntaxError");
    strictEqual(e.message, "this module fails at load");
    return true;
  });
  await rejects(broken.map("square", [1, 2]), SyntaxError);
  await using badInit = new Pool<typeof Tasks>(TASKS, {
    processes: 1,
    initializer: "badInit",
  });
  await rejects(badInit.apply("square", [1]), {
    name: "TypeError",
    message: "the initializer failed",
  });
});

test("a signal aborts a map: it rejects with the reason, tasks not started are dropped, and the pool goes on", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, { processes: 1 });
  strictEqual(await pool.apply("square", [1]), 1); // the worker is up
  const ac = new AbortController();
  const running = pool.map("nap", [200, 200, 200, 200, 200], {
    chunkSize: 1,
    signal: ac.signal,
  });
  setTimeout(() => ac.abort(), 50);
  await rejects(running, { name: "AbortError" });
  strictEqual(await pool.apply("square", [3]), 9);
  // Only the task running at the abort ran: the one already sent ahead to
  // the worker was called back, the others never left.
  strictEqual(await pool.apply("napsStarted", []), 1);
});

test("terminate() kills the workers; running tasks reject; join() resolves", async () => {
  const pool = new Pool<typeof Tasks>(TASKS, { processes: 2 });
  const pid = await pool.apply("pid", []);
  const napping = pool.apply("nap", [30_000]);
  await new Promise((r) => setTimeout(r, 100));
  pool.terminate();
  await rejects(napping, /terminated/);
  await pool.join();
  await rejects(pool.apply("square", [1]), /terminated/);
  let alive = true;
  try {
    Deno.kill(pid, "SIGCONT");
  } catch {
    alive = false;
  }
  strictEqual(alive, false, "the worker is gone");
});

test("close() and join() let running tasks finish; await using leaves no fds, processes or waits", async () => {
  const before = openFds().length;
  let pid = 0;
  {
    await using pool = new Pool<typeof Tasks>(TASKS, { processes: 2 });
    pid = await pool.apply("pid", []);
    const last = pool.apply("nap", [100]);
    pool.close();
    await rejects(pool.apply("square", [1]), /closed/);
    ok((await last) > 0);
    await pool.join();
  }
  strictEqual(openFds().length, before);
  let alive = true;
  try {
    Deno.kill(pid, "SIGCONT");
  } catch {
    alive = false;
  }
  strictEqual(alive, false);
});

Deno.test("Pool types follow the module: a wrong task name or argument is a type error", () => {
  const check = (pool: Pool<typeof Tasks>) => {
    // @ts-expect-error: no such task
    pool.apply("nope", []);
    // @ts-expect-error: square takes a number
    pool.map("square", ["x"]);
    const n: Promise<number[]> = pool.map("square", [1, 2]);
    return n;
  };
  strictEqual(typeof check, "function");
});

test("a worker that dies with big chunks in its inbox does not keep the parent alive after close() and join()", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", workerUrl("pool_big_then_die.ts").pathname],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  strictEqual(out.code, 0, text + new TextDecoder().decode(out.stderr));
  deepStrictEqual(text.trim().split("\n"), [
    '["WorkerExitError",2000000,2000000]',
    "joined",
  ]);
});

test("a task argument that cannot cross rejects its call, and close()+join() still settle", async () => {
  const pool = new Pool<typeof Tasks>(TASKS, { processes: 1 });
  strictEqual(await pool.apply("square", [2]), 4);
  // deno-lint-ignore no-explicit-any
  const bad = pool.apply("square", [(() => 1) as any]);
  pool.close(); // the worker still holds the chunk whose send will fail
  await rejects(bad, TypeError);
  await pool.join();
});

test("a replacement worker killed while it starts does not break a pool that has run tasks", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, { processes: 1 });
  strictEqual(await pool.apply("square", [3]), 9);
  const first = await pool.apply("pid", []);
  const dying = pool.apply("exitAt", [1, 1, 9]);
  await rejects(dying, WorkerExitError);
  // Kill the replacement as soon as it exists (before it is ready).
  const children = async () =>
    new TextDecoder().decode(
      (await new Deno.Command("ps", {
        args: ["-o", "pid=", "--ppid", String(Deno.pid)],
        stdout: "piped",
      }).output()).stdout,
    ).trim().split(/\s+/).filter((s) => s !== "").map(Number);
  let killed = 0;
  for (let i = 0; i < 500 && killed === 0; i++) {
    for (const p of await children()) {
      if (p !== first) {
        try {
          Deno.kill(p, "SIGKILL");
          killed = p;
        } catch {
          // gone already
        }
        break;
      }
    }
  }
  ok(killed > 0, "a replacement was seen");
  strictEqual(await pool.apply("square", [4]), 16);
});

test("a task that throws undefined fails its imap step with undefined", async () => {
  await using pool = new Pool<typeof Tasks>(TASKS, { processes: 1 });
  let caught: unknown = "nothing";
  try {
    for await (const _ of pool.imap("throwUndefined", [undefined])) {
      // nothing arrives
    }
  } catch (e) {
    caught = e;
  }
  strictEqual(caught, undefined);
});
