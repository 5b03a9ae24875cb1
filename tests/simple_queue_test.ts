import {
  deepStrictEqual,
  ok,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import { bytes, ClosedError, SimpleQueue, spawn } from "../mod.ts";
import { withTimeout, workerUrl } from "./_util.ts";

Deno.test("SimpleQueue.put() and get() move items in order in one process", async () => {
  using q = new SimpleQueue<unknown>();
  strictEqual(q.empty(), true);
  await q.put({ a: 1 });
  await q.put("two");
  strictEqual(q.empty(), false);
  deepStrictEqual(await q.get(), { a: 1 });
  strictEqual(await q.get(), "two");
  strictEqual(q.empty(), true);
});

Deno.test("SimpleQueue.put() rejects bad input with TypeError and leaves the queue unchanged", async () => {
  using q = new SimpleQueue<unknown>();
  await rejects(q.put({ a: [1, 2, { fn: () => 1 }] }), (e: Error) => {
    strictEqual(e.constructor, TypeError);
    ok(e.message.includes("$.a[2].fn"), e.message);
    return true;
  });
  strictEqual(q.empty(), true);
  await q.put("after");
  strictEqual(await q.get(), "after");
});

Deno.test("SimpleQueue.close() makes every call fail with ClosedError and is idempotent", async () => {
  const q = new SimpleQueue<number>();
  strictEqual(q.closed, false);
  q.close();
  strictEqual(q.closed, true);
  q.close();
  await rejects(q.put(1), ClosedError);
  await rejects(q.get(), ClosedError);
  throws(() => q.empty(), ClosedError);
});

Deno.test("SimpleQueue.get() pending in this process rejects with ClosedError on close()", async () => {
  const q = new SimpleQueue<number>();
  const pending = q.get();
  await new Promise((r) => setTimeout(r, 20));
  q.close();
  await withTimeout(rejects(pending, ClosedError), 2_000, "the pending get");
});

Deno.test("SimpleQueue moves items parent to worker and back", async () => {
  const to = new SimpleQueue<unknown>();
  const from = new SimpleQueue<unknown>();
  const child = spawn(workerUrl("echo.ts"), { args: [to, from] });
  const items = [
    1,
    "x",
    { deep: [new Map([["k", new Set([1n])]])] },
    new Uint8Array([1, 2]),
  ];
  for (const item of items) await to.put(item);
  for (const item of items) {
    deepStrictEqual(await withTimeout(from.get(), 30_000, "echo"), item);
  }
  await to.put(null);
  strictEqual((await child.status).code, 0);
  to.close();
  from.close();
});

Deno.test("SimpleQueue carries a 64 MiB item through a worker intact", async () => {
  const to = new SimpleQueue<Uint8Array | null>({ serializer: bytes });
  const from = new SimpleQueue<Uint8Array | null>({ serializer: bytes });
  const child = spawn(workerUrl("echo.ts"), { args: [to, from] });
  const big = new Uint8Array(64 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4093) big[i] = i & 0xff;
  const sent = to.put(big);
  const back = await withTimeout(from.get(), 60_000, "the 64 MiB echo");
  await sent;
  strictEqual(back!.length, big.length);
  ok(back!.every((v, i) => v === big[i]), "payload differs");
  await to.put(new Uint8Array(0)); // the bytes serializer: an empty item stops nothing
  strictEqual((await from.get())!.length, 0);
  child.kill("SIGKILL");
  await child.status;
  to.close();
  from.close();
});

Deno.test("SimpleQueue delivers 50,000 items from 4 producer to 4 consumer processes exactly once", async () => {
  const q = new SimpleQueue<{ p: number; i: number } | null>();
  const results = new SimpleQueue<number[]>();
  const per = 12_500;
  const producers = [0, 1, 2, 3].map((id) =>
    spawn(workerUrl("producer.ts"), { args: [q, id, per] })
  );
  const consumers = [0, 1, 2, 3].map(() =>
    spawn(workerUrl("consumer.ts"), { args: [q, results] })
  );
  for (const p of producers) {
    strictEqual((await withTimeout(p.status, 120_000, "producer")).code, 0);
  }
  for (let k = 0; k < 4; k++) await q.put(null);
  const seen = new Uint8Array(4 * per);
  let total = 0;
  for (let k = 0; k < 4; k++) {
    const got = await withTimeout(results.get(), 60_000, "consumer results");
    const last = [-1, -1, -1, -1];
    for (let j = 0; j < got.length; j += 2) {
      const [p, i] = [got[j], got[j + 1]];
      ok(
        i > last[p],
        `producer ${p}'s items arrived out of order at one consumer`,
      );
      last[p] = i;
      seen[p * per + i]++;
      total++;
    }
  }
  for (const c of consumers) strictEqual((await c.status).code, 0);
  strictEqual(total, 4 * per);
  ok(seen.every((n) => n === 1), "some item was lost or duplicated");
  q.close();
  results.close();
});

Deno.test("SimpleQueue consumer killed with SIGKILL while blocked in get() does not disturb the others", async () => {
  const q = new SimpleQueue<unknown>();
  const readyA = new SimpleQueue<unknown>();
  const readyB = new SimpleQueue<unknown>();
  const a = spawn(workerUrl("blocked_get.ts"), { args: [q, readyA] });
  strictEqual(
    await withTimeout(readyA.get(), 30_000, "worker A"),
    `waiting ${a.pid}`,
  );
  a.kill("SIGKILL");
  strictEqual((await a.status).signal, "SIGKILL");
  const b = spawn(workerUrl("blocked_get.ts"), { args: [q, readyB] });
  strictEqual(
    await withTimeout(readyB.get(), 30_000, "worker B"),
    `waiting ${b.pid}`,
  );
  await q.put("for B");
  deepStrictEqual(await withTimeout(readyB.get(), 30_000, "B's item"), {
    got: "for B",
  });
  strictEqual((await b.status).code, 0);
  await q.put("for the parent");
  strictEqual(
    await withTimeout(q.get(), 5_000, "parent get"),
    "for the parent",
  );
  for (const x of [q, readyA, readyB]) x.close();
});
