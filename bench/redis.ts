// The Redis queues (`@mp/queues/redis`) against raw list operations of the
// same node-redis client and against BullMQ, over loopback TCP, in one run.
//
//   deno run -A bench/redis.ts [--quick] [--reps=3]
//
// Starts a throwaway redis-server on a free 127.0.0.1 port (no persistence)
// and stops it at the end, also on error or Ctrl-C. N small items
// ({ i, s: "hello", f: 1.5 }; N = 20,000, 2,000 with --quick), a producer
// and a consumer on two handles of the same process (two `connect` calls),
// unless the cell says otherwise:
//   one     RedisQueue: `await put(x)` N times, then `await get()` N times
//   batch   RedisQueue: putMany of 1000, then getMany({ maxItems: 1000 })
//   xproc   as batch, the producer a child `deno run` process, both at once
//           (after 5,000 warm-up items)
//   join    RedisJoinableQueue: putMany of 1000 while the consumer does
//           getMany({ maxItems: 1000 }) + taskDone() per item; then join()
// against raw node-redis (Buffer payloads of the same msgpack bytes):
//   LPUSH each awaited, then BRPOP (timeout 1) each awaited; LPUSH of 1000
//   items each awaited, then LPOP key 1000 each awaited
// and BullMQ 6.7.0 (ioredis 6.0.0): addBulk of 1000, then a Worker of
// concurrency 1 processing every job. Each cell is the median of REPS runs
// (cells interleaved within a run), after one unrecorded warm-up run. Prints a markdown table with the goals
// of the issue and writes bench/results/redis-<date>.json.
//
// (Internal: `--child <url> <name> <n>` is the producer of the xproc cell.)

import { Buffer } from "node:buffer";
import { createClient, RESP_TYPES } from "redis";
// deno-lint-ignore no-import-prefix -- pinned for the measurement
import { Redis } from "npm:ioredis@6.0.0";
// deno-lint-ignore no-import-prefix -- pinned for the measurement
import { Queue as BullQueue, Worker } from "npm:bullmq@6.7.0";
import { msgpack } from "../mod.ts";
import { RedisJoinableQueue, RedisQueue } from "../redis/mod.ts";
import { RedisServer } from "../tests/_redis_server.ts";
import {
  gitCommit,
  median,
  type Small,
  small,
  writeResult,
} from "./_common.ts";

const BATCH = 1000;
/** Items the xproc child puts (and the parent gets) before timing. */
const WARM = 5000;
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- child

if (Deno.args[0] === "--child") {
  const [, url, name, count] = Deno.args;
  const n = Number(count);
  const q = await RedisQueue.connect<Small>(url, name);
  const items = Array.from({ length: n }, (_, i) => small(i));
  // Warm-up (JIT): WARM items the parent drains before it says "go".
  for (let i = 0; i < WARM; i += BATCH) {
    const m = Math.min(BATCH, WARM - i);
    await q.putMany(Array.from({ length: m }, (_, k) => small(i + k)));
  }
  await Deno.stdout.write(new TextEncoder().encode("ready\n"));
  // Wait for "go" on stdin.
  const buf = new Uint8Array(16);
  await Deno.stdin.read(buf);
  for (let i = 0; i < n; i += BATCH) {
    await q.putMany(items.slice(i, i + BATCH));
  }
  await q.close();
  Deno.exit(0);
}

// ---------------------------------------------------------------- setup

const args = new Map(
  Deno.args.map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? "true"];
  }),
);
const quick = args.has("quick");
const REPS = Number(args.get("reps") ?? 3);
const N = quick ? 2_000 : 20_000;
/** Items of the batched cells: 200 calls of BATCH (20 say little). */
const NB = quick ? 20_000 : 200_000;

/** Per second: `count` over `ms`. */
const perSec = (count: number, ms: number) => count / (ms / 1000);

async function redisVersion(): Promise<string> {
  const out = await new Deno.Command("redis-server", {
    args: ["--version"],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  return /v=(\S+)/.exec(text)?.[1] ?? text.trim();
}

const itemsB: Small[] = Array.from({ length: NB }, (_, i) => small(i));
const items = itemsB.slice(0, N);
const payloadsB: Buffer[] = itemsB.map((x) => {
  const b = msgpack.encode(x);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
});
const payloads = payloadsB.slice(0, N);
const uniq = (cell: string) => `bench-${cell}-${crypto.randomUUID()}`;

function check(got: number, what: string, n = N) {
  if (got !== n) throw new Error(`${what}: got ${got} of ${n}`);
}

// ---------------------------------------------------------------- cells

type Sample = Record<string, number>;

/** RedisQueue, each call awaited. */
async function mpqOne(url: string): Promise<Sample> {
  const name = uniq("one");
  const p = await RedisQueue.connect<Small>(url, name);
  const c = await RedisQueue.connect<Small>(url, name);
  try {
    let t = now();
    for (const x of items) await p.put(x);
    const put = now() - t;
    t = now();
    let sum = 0;
    for (let i = 0; i < N; i++) sum += (await c.get()).i >= 0 ? 1 : 0;
    const get = now() - t;
    check(sum, "mpq one");
    return {
      put: perSec(N, put),
      get: perSec(N, get),
      total: perSec(N, put + get),
    };
  } finally {
    await c.close();
    await p.destroy();
  }
}

/** RedisQueue, putMany of BATCH then getMany of BATCH. */
async function mpqBatch(url: string): Promise<Sample> {
  const name = uniq("batch");
  const p = await RedisQueue.connect<Small>(url, name);
  const c = await RedisQueue.connect<Small>(url, name);
  try {
    let t = now();
    for (let i = 0; i < NB; i += BATCH) {
      await p.putMany(itemsB.slice(i, i + BATCH));
    }
    const put = now() - t;
    t = now();
    let got = 0;
    while (got < NB) got += (await c.getMany({ maxItems: BATCH })).length;
    const get = now() - t;
    check(got, "mpq batch", NB);
    return {
      put: perSec(NB, put),
      get: perSec(NB, get),
      total: perSec(NB, put + get),
    };
  } finally {
    await c.close();
    await p.destroy();
  }
}

/** RedisQueue, producer in a child process, consumer here, at once. */
async function mpqCross(url: string): Promise<Sample> {
  const name = uniq("xproc");
  const c = await RedisQueue.connect<Small>(url, name);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--child",
      url,
      name,
      String(NB),
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    const first = await reader.read();
    if (!new TextDecoder().decode(first.value).startsWith("ready")) {
      throw new Error("xproc: child not ready");
    }
    reader.releaseLock();
    let warm = 0;
    while (warm < WARM) warm += (await c.getMany({ maxItems: BATCH })).length;
    const drain = child.stdout.pipeTo(new WritableStream());
    const writer = child.stdin.getWriter();
    const t = now();
    await writer.write(new TextEncoder().encode("go\n"));
    let got = 0;
    while (got < NB) got += (await c.getMany({ maxItems: BATCH })).length;
    const total = now() - t;
    check(got, "mpq xproc", NB);
    await writer.close();
    const status = await child.status;
    await drain;
    if (status.code !== 0) throw new Error(`xproc child: ${status.code}`);
    return { total: perSec(NB, total) };
  } finally {
    try {
      child.kill();
    } catch { /* exited */ }
    await c.destroy();
  }
}

/** RedisJoinableQueue: putMany || getMany + taskDone, then join. */
async function mpqJoin(url: string): Promise<Sample> {
  const name = uniq("join");
  const p = await RedisJoinableQueue.connect<Small>(url, name);
  const c = await RedisJoinableQueue.connect<Small>(url, name);
  try {
    const t = now();
    const produce = (async () => {
      for (let i = 0; i < NB; i += BATCH) {
        await p.putMany(itemsB.slice(i, i + BATCH));
      }
    })();
    const consume = (async () => {
      let got = 0;
      while (got < NB) {
        const batch = await c.getMany({ maxItems: BATCH });
        got += batch.length;
        let last: Promise<void> = Promise.resolve();
        for (let k = 0; k < batch.length; k++) last = c.taskDone();
        await last;
      }
      return got;
    })();
    const [, got] = await Promise.all([produce, consume]);
    await p.join();
    const total = now() - t;
    check(got, "mpq join", NB);
    return { total: perSec(NB, total) };
  } finally {
    await c.close();
    await p.destroy();
  }
}

/** How late 100 ms timeouts end, and how soon a waiting get wakes, in ms. */
async function timing(url: string): Promise<Record<string, number[]>> {
  const q = await RedisQueue.connect<number>(url, uniq("timing"), {
    maxsize: 1,
  });
  const other = await RedisQueue.connect<number>(url, q.name);
  const getLate: number[] = [];
  const putLate: number[] = [];
  const wake: number[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const t = now();
      await q.get({ timeout: 100 }).catch(() => {});
      getLate.push(now() - t - 100);
    }
    await q.put(0);
    for (let i = 0; i < 20; i++) {
      const t = now();
      await q.put(1, { timeout: 100 }).catch(() => {});
      putLate.push(now() - t - 100);
    }
    await q.get();
    for (let i = 0; i < 20; i++) {
      const waiting = other.get();
      await sleep(20);
      const t = now();
      await q.put(i);
      await waiting;
      wake.push(now() - t);
    }
  } finally {
    await other.close();
    await q.destroy();
  }
  return { getLate, putLate, wake };
}

async function rawClient(url: string) {
  const base = createClient({ url });
  base.on("error", (e) => console.error("node-redis:", e));
  await base.connect();
  return base.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
}

/** Raw node-redis LPUSH each awaited, then BRPOP each awaited. */
async function rawOne(url: string): Promise<Sample> {
  const key = uniq("raw-one");
  const p = await rawClient(url);
  const c = await rawClient(url);
  try {
    let t = now();
    for (const b of payloads) await p.lPush(key, b);
    const put = now() - t;
    t = now();
    let got = 0;
    for (let i = 0; i < N; i++) {
      const r = await c.brPop(key, 1);
      if (r !== null) got++;
    }
    const get = now() - t;
    check(got, "raw one");
    return {
      put: perSec(N, put),
      get: perSec(N, get),
      total: perSec(N, put + get),
    };
  } finally {
    await p.del(key);
    await c.close();
    await p.close();
  }
}

/** Raw node-redis LPUSH of BATCH each awaited, then LPOP key BATCH. */
async function rawBatch(url: string): Promise<Sample> {
  const key = uniq("raw-batch");
  const p = await rawClient(url);
  const c = await rawClient(url);
  try {
    let t = now();
    for (let i = 0; i < NB; i += BATCH) {
      await p.lPush(key, payloadsB.slice(i, i + BATCH));
    }
    const put = now() - t;
    t = now();
    let got = 0;
    while (got < NB) got += (await c.lPopCount(key, BATCH))?.length ?? 0;
    const get = now() - t;
    check(got, "raw batch", NB);
    return {
      put: perSec(NB, put),
      get: perSec(NB, get),
      total: perSec(NB, put + get),
    };
  } finally {
    await p.del(key);
    await c.close();
    await p.close();
  }
}

/** BullMQ: addBulk of BATCH, then a Worker of concurrency 1. */
async function bull(port: number): Promise<Sample> {
  // BullMQ does not close connections it was given: they are closed here.
  const conns: Redis[] = [];
  const connection = () => {
    const r = new Redis({
      host: "127.0.0.1",
      port,
      maxRetriesPerRequest: null,
    });
    conns.push(r);
    return r;
  };
  const name = uniq("bull");
  const queue = new BullQueue(name, { connection: connection() });
  const worker = new Worker(name, (job) => Promise.resolve(job.data.i), {
    connection: connection(),
    concurrency: 1,
    autorun: false,
  });
  const jobs = items.map((data) => ({ name: "j", data }));
  try {
    let t = now();
    for (let i = 0; i < N; i += BATCH) {
      await queue.addBulk(jobs.slice(i, i + BATCH));
    }
    const add = now() - t;
    const done = Promise.withResolvers<void>();
    let completed = 0;
    worker.on("completed", () => ++completed === N && done.resolve());
    worker.on("failed", (_, e) => done.reject(e));
    await worker.waitUntilReady();
    t = now();
    worker.run();
    await done.promise;
    const process = now() - t;
    return {
      put: perSec(N, add),
      get: perSec(N, process),
      total: perSec(N, add + process),
    };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await Promise.all(conns.map((c) => c.quit()));
  }
}

// ---------------------------------------------------------------- main

const fmt = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? "–" : Math.round(x).toLocaleString(
    "en-US",
  );
const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;

const server = await RedisServer.start();
const onSignal = () => server.stop().finally(() => Deno.exit(130));
Deno.addSignalListener("SIGINT", onSignal);
try {
  const url = `redis://127.0.0.1:${server.port}`;
  const [commit, redis] = await Promise.all([gitCommit(), redisVersion()]);
  console.log(
    `bench/redis.ts: redis-server ${redis}, Deno ${Deno.version.deno}, commit ${commit}, N=${N} (batched ${NB}), ${REPS} reps${
      quick ? ", quick" : ""
    }, loopback TCP`,
  );
  const CELLS: Record<string, () => Promise<Sample>> = {
    mpq_one: () => mpqOne(url),
    raw_one: () => rawOne(url),
    mpq_batch: () => mpqBatch(url),
    raw_batch: () => rawBatch(url),
    mpq_xproc: () => mpqCross(url),
    mpq_join: () => mpqJoin(url),
    bullmq: () => bull(server.port),
  };
  const runs: Record<string, Sample[]> = {};
  // Rep 0 warms up (JIT, server allocations) and is not recorded.
  for (let rep = 0; rep <= REPS; rep++) {
    for (const [cell, f] of Object.entries(CELLS)) {
      const s = await f();
      if (rep === 0) {
        console.error(`warm-up ${cell} done`);
        continue;
      }
      (runs[cell] ??= []).push(s);
      console.error(
        `rep ${rep}/${REPS} ${cell}: ${
          Object.entries(s).map(([k, v]) => `${k} ${fmt(v)}/s`).join(", ")
        }`,
      );
    }
  }
  const times = await timing(url);
  const med: Record<string, Sample> = {};
  for (const [cell, rs] of Object.entries(runs)) {
    med[cell] = Object.fromEntries(
      Object.keys(rs[0]).map((k) => [k, median(rs.map((r) => r[k]))]),
    );
  }

  // [label, mpq, raw, bullmq, goal]
  type Line = [string, number, number | undefined, number | undefined, string];
  const lines: Line[] = [
    [
      "put, awaited one by one",
      med.mpq_one.put,
      med.raw_one.put,
      undefined,
      "≥ 10k/s",
    ],
    [
      "get, awaited one by one",
      med.mpq_one.get,
      med.raw_one.get,
      undefined,
      "≥ 10k/s",
    ],
    [
      "putMany ×1000",
      med.mpq_batch.put,
      med.raw_batch.put,
      med.bullmq.put,
      "≥ 100k/s",
    ],
    [
      "getMany ×1000",
      med.mpq_batch.get,
      med.raw_batch.get,
      med.bullmq.get,
      "≥ 100k/s",
    ],
    [
      "batched put then get, whole transfer",
      med.mpq_batch.total,
      med.raw_batch.total,
      med.bullmq.total,
      "≥ 100k/s",
    ],
    [
      "batched, producer in a child process (concurrent)",
      med.mpq_xproc.total,
      med.raw_batch.total,
      med.bullmq.total,
      "≥ 100k/s",
    ],
    [
      "joinable: putMany ‖ getMany + taskDone, join",
      med.mpq_join.total,
      med.raw_batch.total,
      med.bullmq.total,
      "≥ 100k/s",
    ],
  ];
  const goalOf = (g: string) => (g.includes("100k") ? 100_000 : 10_000);
  const table = [
    row([
      "cell (items/s)",
      "mpq",
      "raw list ops",
      "ratio mpq/raw",
      "BullMQ",
      "goal",
      "goal met",
    ]),
    row(Array(7).fill("---")),
    ...lines.map(([label, m, r, b, goal]) => {
      const ratio = r === undefined ? NaN : m / r;
      const ok = m >= goalOf(goal) && !(ratio < 0.5);
      return row([
        label,
        fmt(m),
        fmt(r),
        Number.isNaN(ratio) ? "–" : ratio.toFixed(2),
        fmt(b),
        `${goal}, ≥ 0.5× raw`,
        ok ? "yes" : "no",
      ]);
    }),
  ];
  console.log(table.join("\n"));
  console.log(
    "\nraw list ops: node-redis LPUSH / BRPOP(timeout 1) each awaited; LPUSH of 1000 / LPOP key 1000 each awaited.\n" +
      "BullMQ: addBulk of 1000 (put), Worker concurrency 1 (get), sum (whole transfer).\n" +
      "Goals (issue): batched ≥ 100k items/s, awaited one by one ≥ 10k/s, within 2× of raw list operations.",
  );
  const ms = (xs: number[]) =>
    `median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
  console.log(
    `\nget({ timeout: 100 }) on an empty queue ended late by: ${
      ms(times.getLate)
    }\n` +
      `put(x, { timeout: 100 }) on a full queue ended late by: ${
        ms(times.putLate)
      }\n` +
      `a waiting get (another handle) resolved after a put began: ${
        ms(times.wake)
      } (20 each)`,
  );

  await writeResult("redis", {
    date: new Date().toISOString(),
    commit,
    deno: Deno.version.deno,
    redis_server: redis,
    transport: "tcp loopback",
    versions: { bullmq: "6.7.0", ioredis: "6.0.0" },
    quick,
    n: N,
    batch: BATCH,
    reps: REPS,
    medians: med,
    runs,
    timing_ms: times,
    table: lines.map(([label, mpq, raw, bullmq, goal]) => ({
      label,
      mpq,
      raw,
      ratio: raw === undefined ? null : mpq / raw,
      bullmq,
      goal,
    })),
  });
} finally {
  Deno.removeSignalListener("SIGINT", onSignal);
  await server.stop();
}
