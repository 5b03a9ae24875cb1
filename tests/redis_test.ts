// The Redis queues (@mp/queues/redis) against a real redis-server: started
// per test on a free loopback port (no persistence) unless MPQ_REDIS_URL names one.
// Workers are real Deno processes that attach with only the URL and a name.
import {
  deepStrictEqual,
  match,
  ok,
  rejects,
  strictEqual,
} from "node:assert/strict";
import { decode as referenceDecode } from "@msgpack/msgpack";
import { createClient, RESP_TYPES } from "redis";
import { Buffer } from "node:buffer";
import { JoinableQueue, Queue, type QueueLike } from "../mod.ts";
import {
  ClosedError,
  Empty,
  Full,
  RedisJoinableQueue,
  RedisQueue,
  RedisSimpleQueue,
} from "../redis/mod.ts";
import { Link, NEVER } from "../redis/_link.ts";
import { keysOf } from "../redis/_keys.ts";
import * as lua from "../redis/_scripts.ts";
import { GIVEN_URL, NO_REDIS, NO_SERVER, RedisServer } from "./_redis.ts";
import { withTimeout } from "./_util.ts";

/** The permissions a worker gets: the narrowest the client needs. */
const WORKER_FLAGS = ["--allow-net", "--allow-env=REDIS_DEBUG_MAINTENANCE"];
const WORKER = new URL("./workers/redis_worker.ts", import.meta.url);

let unique = 0;
/** A queue name no other test uses. */
function fresh(what: string): string {
  return `test-${what}-${Deno.pid}-${++unique}`;
}

/** A test with a server: its own, or MPQ_REDIS_URL's. */
function redisTest(
  name: string,
  fn: (url: string, server: RedisServer | null) => Promise<void>,
  options: { ownServer?: boolean; ms?: number } = {},
): void {
  const ignore = options.ownServer ? NO_SERVER : NO_REDIS;
  Deno.test({
    name,
    ignore,
    fn: async () => {
      if (GIVEN_URL !== "" && !options.ownServer) {
        return await withTimeout(
          fn(GIVEN_URL, null),
          options.ms ?? 60_000,
          name,
        );
      }
      await using server = await RedisServer.start();
      await withTimeout(fn(server.url, server), options.ms ?? 60_000, name);
    },
  });
}

/** A raw client (binary replies) for looking at the keys. */
async function raw(url: string) {
  const unix = /^unix:\/\/(.*)$/.exec(url);
  const client = createClient(
    unix ? { socket: { path: unix[1], tls: false as const } } : { url },
  ).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** Every key of the queue `name`. */
async function keysOfQueue(url: string, name: string): Promise<string[]> {
  const client = await raw(url);
  try {
    const found = await client.sendCommand([
      "KEYS",
      keysOf(name).pattern,
    ]) as Buffer[];
    return found.map((k) => k.toString()).sort();
  } finally {
    await client.close();
  }
}

/** Runs a worker role to its end; returns its exit status. */
function worker(...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...WORKER_FLAGS, WORKER.href, ...args],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
}

/** A worker that dies (exit 137) at the named step of redis/_steps.ts. */
function dyingAt(stepName: string, ...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env=REDIS_DEBUG_MAINTENANCE,MPQ_DIE_AT",
      WORKER.href,
      ...args,
    ],
    env: { MPQ_DIE_AT: stepName },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
}

/** Gets exactly n items (each within 30 s). */
async function drain<T>(q: QueueLike<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < n) {
    out.push(...await q.getMany({ maxItems: n - out.length, timeout: 30_000 }));
  }
  return out;
}

redisTest(
  "values of the type table round-trip, and the stored bytes are standard msgpack",
  async (url) => {
    const name = fresh("types");
    const q = await RedisQueue.connect<unknown>(url, name);
    const values: unknown[] = [
      null,
      undefined,
      true,
      -0,
      NaN,
      2 ** 53 + 2,
      123456789012345678901234567890n,
      "héllo ✓",
      new Uint8Array([0, 1, 255]),
      new Float64Array([1.5, -2]),
      [1, undefined, 3],
      { a: { b: [new Date(0), new Map([[1, "x"]]), new Set(["y"])] } },
      new RangeError("bad", { cause: 7 }),
    ];
    await q.putMany(values);
    const back = await drain(q, values.length);
    deepStrictEqual(back.slice(0, 12), values.slice(0, 12));
    ok(back[12] instanceof RangeError);
    strictEqual((back[12] as Error).message, "bad");
    // Plain data is readable from any language: the list holds msgpack.
    await q.put({ id: 7, tags: ["a", "b"] });
    const client = await raw(url);
    try {
      const [bytes] = await client.sendCommand([
        "LRANGE",
        keysOf(name).ready,
        "0",
        "0",
      ]) as Buffer[];
      deepStrictEqual(referenceDecode(bytes), { id: 7, tags: ["a", "b"] });
    } finally {
      await client.close();
    }
    await q.destroy();
  },
);

redisTest(
  "the same QueueLike code runs on a local and a Redis queue",
  async (url) => {
    async function pipeline(q: QueueLike<number>): Promise<number> {
      await q.putMany([1, 2, 3]);
      await q.put(4);
      let sum = 0;
      for (const x of await drain(q, 4)) sum += x;
      return sum;
    }
    await using local = new Queue<number>();
    const remote = await RedisQueue.connect<number>(url, fresh("like"));
    strictEqual(await pipeline(local), 10);
    strictEqual(await pipeline(remote), 10);
    await remote.destroy();
  },
);

redisTest(
  "2,000 items put by 2 producer processes reach 3 consumer processes exactly once",
  async (url) => {
    const name = fresh("once");
    const outName = fresh("once-out");
    const q = await RedisQueue.connect<number | null>(url, name);
    const out = await RedisQueue.connect<number>(url, outName);
    const consumers = [0, 1, 2].map(() =>
      worker("consume", url, name, outName)
    );
    const producers = [
      worker("produce", url, name, "0", "1000"),
      worker("produce", url, name, "1000", "2000"),
    ];
    for (const p of producers) strictEqual((await p.status).code, 0);
    await q.putMany([null, null, null]);
    const got = await drain(out, 2000);
    for (const c of consumers) strictEqual((await c.status).code, 0);
    deepStrictEqual(
      got.sort((a, b) => a - b),
      Array.from({ length: 2000 }, (_, i) => i),
    );
    strictEqual(await q.qsize(), 0);
    await out.destroy();
    await q.destroy();
  },
);

redisTest(
  "maxsize holds across processes: a producer process waits while the queue is full",
  async (url) => {
    const name = fresh("bound");
    const q = await RedisQueue.connect<number>(url, name, { maxsize: 5 });
    const producer = worker("produce", url, name, "0", "40");
    const got: number[] = [];
    let largest = 0;
    while (got.length < 40) {
      await new Promise((r) => setTimeout(r, 5));
      largest = Math.max(largest, await q.qsize());
      got.push(await q.get({ timeout: 30_000 }));
    }
    strictEqual((await producer.status).code, 0);
    ok(largest <= 5, `qsize reached ${largest}`);
    strictEqual(largest, 5, "the producer filled the queue up to its bound");
    deepStrictEqual(got, Array.from({ length: 40 }, (_, i) => i));
    // A put waiting for room is let in by a get of another handle.
    const other = await RedisQueue.connect<number>(url, name);
    await q.putMany([1, 2, 3, 4, 5]);
    ok(await q.full());
    await rejects(q.putNowait(6), Full);
    const waiting = q.put(6);
    await new Promise((r) => setTimeout(r, 50));
    strictEqual(await q.qsize(), 5);
    strictEqual(await other.get(), 1);
    await waiting;
    deepStrictEqual(await drain(other, 5), [2, 3, 4, 5, 6]);
    // putMany beyond the bound puts what fits, then waits for the rest.
    const many = q.putMany([10, 11, 12, 13, 14, 15, 16]);
    deepStrictEqual(await drain(other, 7), [10, 11, 12, 13, 14, 15, 16]);
    await many;
    await rejects(q.putMany([1, 2, 3, 4, 5, 6], { timeout: 50 }), Full);
    strictEqual(await q.qsize(), 5, "the items already put stay put");
    await other.close();
    await q.destroy();
  },
);

redisTest(
  "timeouts end get, put and join on time; an abort ends them and loses nothing",
  async (url) => {
    const q = await RedisJoinableQueue.connect<number>(url, fresh("time"), {
      maxsize: 1,
    });
    for (const ms of [30, 150]) {
      let t = performance.now();
      await rejects(q.get({ timeout: ms }), Empty);
      let took = performance.now() - t;
      ok(took >= ms - 1 && took < ms + 500, `get took ${took} ms for ${ms}`);
      await q.put(1);
      t = performance.now();
      await rejects(q.put(2, { timeout: ms }), Full);
      took = performance.now() - t;
      ok(took >= ms - 1 && took < ms + 500, `put took ${took} ms for ${ms}`);
      t = performance.now();
      await rejects(q.join({ timeout: ms }), { name: "TimeoutError" });
      took = performance.now() - t;
      ok(took >= ms - 1 && took < ms + 500, `join took ${took} ms for ${ms}`);
      strictEqual(await q.get(), 1);
      await q.taskDone();
    }
    // Non-blocking and zero timeouts try once.
    await rejects(q.getNowait(), Empty);
    await rejects(q.get({ timeout: 0 }), Empty);
    // An already-aborted signal rejects at once and consumes nothing.
    await q.put(5);
    const reason = new Error("stop");
    await rejects(
      q.get({ signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    strictEqual(await q.qsize(), 1);
    await rejects(q.put(6, { signal: AbortSignal.abort() }), {
      name: "AbortError",
    });
    // An abort during a wait: the put did not happen, the item is still there.
    const controller = new AbortController();
    const put = q.put(7, { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    await rejects(put, { name: "AbortError" });
    strictEqual(await q.get(), 5);
    await q.taskDone();
    const getter = new AbortController();
    const get = q.get({ signal: getter.signal });
    setTimeout(() => getter.abort(), 30);
    await rejects(get, { name: "AbortError" });
    await q.put(8);
    strictEqual(
      await q.get({ timeout: 1000 }),
      8,
      "the aborted get took nothing",
    );
    await q.taskDone();
    await q.join({ timeout: 1000 });
    await rejects(q.get({ timeout: NaN }), RangeError);
    await q.destroy();
  },
);

redisTest(
  "close() ends this handle's waits with ClosedError; other handles keep working",
  async (url) => {
    const name = fresh("close");
    const a = await RedisQueue.connect<number>(url, name);
    const b = await RedisQueue.connect<number>(url, name);
    const waiting = a.get();
    const closing = a.close();
    ok(a.closed);
    await rejects(waiting, ClosedError);
    await closing;
    await a.close(); // again: nothing
    await rejects(a.put(1), ClosedError);
    await b.put(1);
    strictEqual(await b.get(), 1);
    const items: number[] = [];
    await b.putMany([1, 2]);
    for await (const x of b) {
      items.push(x);
      if (items.length === 2) await b.destroy();
    }
    deepStrictEqual(items, [1, 2]);
  },
);

redisTest(
  "a consumer process SIGKILLed mid-batch: its items are delivered again and join() resolves",
  async (url) => {
    const name = fresh("crash");
    const outName = fresh("crash-out");
    const q = await RedisJoinableQueue.connect<number>(url, name, {
      leaseMs: 500,
    });
    const out = await RedisQueue.connect<number>(url, outName);
    const items = Array.from({ length: 2000 }, (_, i) => i);
    await q.putMany(items);
    // The first worker dies in the middle of its second batch of 10 (5 done,
    // 5 held); then two others take over.
    const dying = await worker("work", url, name, outName, "2").status;
    strictEqual(dying.signal, "SIGKILL");
    strictEqual(await out.qsize(), 15, "the dead worker did 15 items");
    const workers = [
      worker("work", url, name, outName),
      worker("work", url, name, outName),
    ];
    await q.join({ timeout: 30_000 });
    for (const w of workers) strictEqual((await w.status).code, 0);
    const done: number[] = [];
    for (;;) {
      try {
        done.push(...await out.getMany({ maxItems: 5000, timeout: 0 }));
      } catch {
        break;
      }
    }
    deepStrictEqual([...new Set(done)].sort((a, b) => a - b), items);
    ok(done.length >= 2000);
    strictEqual(await q.qsize(), 0);
    await out.destroy();
    await q.destroy();
  },
  { ms: 90_000 },
);

redisTest(
  "a live holder keeps its lease past leaseMs; a closed one gives its items back",
  async (url) => {
    const name = fresh("lease");
    const a = await RedisJoinableQueue.connect<string>(url, name, {
      leaseMs: 200,
    });
    const b = await RedisJoinableQueue.connect<string>(url, name);
    strictEqual(b.leaseMs, 200);
    await a.put("x");
    strictEqual(await a.get(), "x");
    await rejects(b.get({ timeout: 700 }), Empty);
    await a.close(); // gives "x" back at once
    strictEqual(await b.get({ timeout: 1000 }), "x");
    await b.taskDone();
    await b.join({ timeout: 1000 });
    await rejects(b.taskDone(), RangeError);
    await b.destroy();
  },
);

redisTest(
  "after maxDeliveries an item moves to the dead-letter stream, and join() resolves",
  async (url) => {
    const name = fresh("dead");
    const q = await RedisJoinableQueue.connect<{ n: number }>(url, name, {
      leaseMs: 60_000,
      maxDeliveries: 2,
    });
    await q.put({ n: 1 });
    for (let i = 0; i < 2; i++) {
      const h = await RedisJoinableQueue.connect<{ n: number }>(url, name);
      deepStrictEqual(await h.get({ timeout: 1000 }), { n: 1 });
      await h.close(); // neither done: given back
    }
    await rejects(q.get({ timeout: 100 }), Empty);
    await q.join({ timeout: 1000 });
    const client = await raw(url);
    try {
      const entries = await client.sendCommand([
        "XRANGE",
        keysOf(name).dead,
        "-",
        "+",
      ]) as [Buffer, Buffer[]][];
      strictEqual(entries.length, 1);
      const fields = entries[0][1];
      deepStrictEqual(referenceDecode(fields[1]), { n: 1 });
      strictEqual(fields[5].toString(), "2", "delivered twice");
    } finally {
      await client.close();
    }
    await q.destroy();
  },
);

redisTest(
  "an item that cannot be decoded rejects its get, goes to the dead-letter stream, and the next item arrives",
  async (url) => {
    const name = fresh("undecodable");
    const q = await RedisJoinableQueue.connect<number>(url, name);
    const client = await raw(url);
    try {
      await client.sendCommand([
        "RPUSH",
        keysOf(name).ready,
        Buffer.from([0xc1]),
      ]);
      await q.put(2);
      await rejects(q.get({ timeout: 1000 }), TypeError);
      strictEqual(await q.get({ timeout: 1000 }), 2);
      await q.taskDone();
      await q.join({ timeout: 1000 });
      // One in the middle of a batch: the items beside it come next.
      await q.put(3);
      await client.sendCommand([
        "RPUSH",
        keysOf(name).ready,
        Buffer.from([0xc1]),
      ]);
      await q.put(4);
      await rejects(q.getMany({ maxItems: 3, timeout: 1000 }), TypeError);
      deepStrictEqual(await q.getMany({ timeout: 1000 }), [3, 4]);
      await q.taskDone();
      await q.taskDone();
      await rejects(q.taskDone(), RangeError);
      await q.join({ timeout: 1000 });
      strictEqual(
        await client.sendCommand(["XLEN", keysOf(name).dead]) as number,
        2,
      );
    } finally {
      await client.close();
    }
    await q.destroy();
  },
);

redisTest(
  "connect checks the stored options: a difference is a TypeError, left-out ones are adopted",
  async (url) => {
    const name = fresh("options");
    const q = await RedisQueue.connect<number>(url, name, { maxsize: 3 });
    await rejects(RedisQueue.connect(url, name, { maxsize: 4 }), {
      name: "TypeError",
      message: /created with maxsize 3, received 4/,
    });
    await rejects(
      RedisQueue.connect(url, name, {
        serializer: {
          name: "json",
          encode: () => new Uint8Array(),
          decode: () => 0,
        },
      }),
      { name: "TypeError", message: /serializer "msgpack", received "json"/ },
    );
    await rejects(RedisJoinableQueue.connect(url, name), {
      name: "TypeError",
      message: /plain queue/,
    });
    const same = await RedisSimpleQueue.connect<number>(url, name);
    strictEqual(same.maxsize, 3);
    await same.close();
    const jname = fresh("joptions");
    const j = await RedisJoinableQueue.connect(url, jname, { leaseMs: 1000 });
    await rejects(
      RedisJoinableQueue.connect(url, jname, { leaseMs: 2000 }),
      TypeError,
    );
    await rejects(
      RedisJoinableQueue.connect(url, jname, { maxDeliveries: 9 }),
      TypeError,
    );
    await rejects(RedisQueue.connect(url, jname), {
      message: /joinable queue/,
    });
    await j.destroy();
    await rejects(RedisQueue.connect(url, name, { maxsize: NaN }), RangeError);
    await rejects(RedisQueue.connect("http://x", name), TypeError);
    await rejects(RedisQueue.connect(url, ""), TypeError);
    await rejects(
      RedisQueue.connect(url, name, {
        serializer: { encode: () => new Uint8Array(), decode: () => 0 },
      }),
      { name: "TypeError", message: /without a name/ },
    );
    await rejects(q.put((() => {}) as unknown as number), TypeError);
    strictEqual(await q.qsize(), 0);
    await q.destroy();
  },
);

redisTest(
  "destroy() deletes every key and ends other handles' waits with ClosedError",
  async (url) => {
    const name = fresh("destroy");
    const q = await RedisJoinableQueue.connect<number>(url, name, {
      maxsize: 10,
    });
    const other = await RedisJoinableQueue.connect<number>(url, name);
    await q.putMany([1, 2, 3]);
    await q.get();
    await q.put(4);
    ok((await keysOfQueue(url, name)).length > 0);
    const joinEnds = rejects(other.join(), ClosedError);
    await q.destroy();
    await joinEnds;
    deepStrictEqual(await keysOfQueue(url, name), []);
    await rejects(other.get({ timeout: 100 }), ClosedError);
    await other.close();
    deepStrictEqual(await keysOfQueue(url, name), []);
  },
);

redisTest(
  "a put resent after a lost reply is not applied twice",
  async (url) => {
    const link = await Link.open(url);
    const name = fresh("dedupe");
    const keys = keysOf(name);
    try {
      await link.script(lua.ATTACH, [keys.meta], [
        "1",
        "format",
        "1",
        "kind",
        "queue",
        "maxsize",
        "0",
      ], NEVER);
      const args = ["mpq:w:", "", "10000", "0", "1", "0", new Uint8Array([1])];
      const put = [
        keys.meta,
        keys.ready,
        keys.getters,
        keys.putters,
        keys.puts("h"),
      ];
      strictEqual(await link.script(lua.PUT, put, args, NEVER), 1);
      strictEqual(await link.script(lua.PUT, put, args, NEVER), 1);
      strictEqual(await link.command(["LLEN", keys.ready]), 1);
      // Once the handle has seen the reply, the record is dropped.
      const next = ["mpq:w:", "", "10000", "0", "2", "1", new Uint8Array([2])];
      strictEqual(await link.script(lua.PUT, put, next, NEVER), 1);
      strictEqual(await link.command(["ZCARD", keys.puts("h")]), 1);
      await link.command([
        "DEL",
        ...Object.values(keys).filter((k) =>
          typeof k === "string" && !k.includes("*")
        ) as string[],
        keys.puts("h"),
      ]);
    } finally {
      await link.release();
    }
  },
);

redisTest(
  "a server restart mid-run: waits end at their timeout, then the queue works again",
  async (url, server) => {
    const name = fresh("restart");
    const q = await RedisJoinableQueue.connect<number>(url, name);
    const other = await RedisJoinableQueue.connect<number>(url, name);
    await q.putMany([1, 2]);
    strictEqual(await other.get(), 1);
    const waiting = other.getMany({ maxItems: 100, timeout: 10_000 });
    // The server dies (losing everything) and comes back empty.
    await server!.kill();
    const t = performance.now();
    await rejects(q.put(3, { timeout: 300 }), Full);
    const took = performance.now() - t;
    ok(took < 800, `put took ${took} ms with the server down`);
    await rejects(q.get({ timeout: 200 }), Empty);
    await server!.restart();
    // The queue is attached again (with its options) and works.
    await q.put(4, { timeout: 10_000 });
    const got = await waiting;
    deepStrictEqual(got, [4]);
    await other.taskDone(); // for 1, lost with the server's data: marks nothing
    await rejects(q.join({ timeout: 50 }), { name: "TimeoutError" });
    await other.taskDone(); // for 4
    await q.join({ timeout: 1000 });
    await rejects(other.taskDone(), RangeError);
    await q.destroy();
    await other.close();
  },
  { ownServer: true },
);

redisTest(
  "a connect to a server that is not there rejects at once",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await rejects(
        RedisQueue.connect(`unix://${dir}/none.sock`, "x"),
        Deno.errors.ConnectionRefused,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

redisTest(
  "JoinableQueue and RedisJoinableQueue share the JoinableQueueLike surface",
  async (url) => {
    async function work(q: import("../mod.ts").JoinableQueueLike<number>) {
      await q.putMany([1, 2, 3]);
      let sum = 0;
      for (const x of await drain(q, 3)) {
        sum += x;
        await q.taskDone();
      }
      await q.join({ timeout: 5000 });
      return sum;
    }
    await using local = new JoinableQueue<number>();
    strictEqual(await work(local), 6);
    const remote = await RedisJoinableQueue.connect<number>(
      url,
      fresh("jlike"),
    );
    strictEqual(await work(remote), 6);
    await remote.destroy();
  },
);

redisTest(
  "with the server gone, close() and destroy() end on their own bounds",
  async (url, server) => {
    const name = fresh("gone");
    const q = await RedisJoinableQueue.connect<number>(url, name);
    const other = await RedisJoinableQueue.connect<number>(url, name);
    await q.putMany([1, 2]);
    strictEqual(await q.get(), 1);
    await q.putMany([3]);
    strictEqual(await q.get(), 2); // held by q when the server goes
    await server!.kill();
    const waitEnds = rejects(other.get(), ClosedError); // no timeout
    let t = performance.now();
    await rejects(other.destroy(), Deno.errors.ConnectionRefused);
    ok(
      performance.now() - t < 8000,
      `destroy took ${performance.now() - t} ms`,
    );
    await waitEnds;
    t = performance.now();
    await q.close();
    ok(performance.now() - t < 4000, `close took ${performance.now() - t} ms`);
  },
  { ownServer: true },
);

redisTest(
  "a dead holder's batch is delivered again from its first undone item, split among smaller gets",
  async (url) => {
    const name = fresh("split");
    const outName = fresh("split-out");
    const q = await RedisJoinableQueue.connect<number>(url, name, {
      leaseMs: 300,
    });
    const out = await RedisQueue.connect<number>(url, outName);
    await q.putMany([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The worker gets 0..9 as one batch, does 0..4 and dies holding 5..9.
    const dying = await worker("work", url, name, outName, "1").status;
    strictEqual(dying.signal, "SIGKILL");
    deepStrictEqual(await drain(out, 5), [0, 1, 2, 3, 4]);
    const b = await RedisJoinableQueue.connect<number>(url, name);
    const c = await RedisJoinableQueue.connect<number>(url, name);
    deepStrictEqual(await b.getMany({ maxItems: 2, timeout: 5000 }), [5, 6]);
    deepStrictEqual(await c.getMany({ maxItems: 10, timeout: 5000 }), [
      7,
      8,
      9,
    ]);
    await rejects(q.join({ timeout: 50 }), { name: "TimeoutError" });
    await b.taskDone();
    await b.taskDone();
    for (let i = 0; i < 3; i++) await c.taskDone();
    await q.join({ timeout: 1000 });
    await b.close();
    await c.close();
    await out.destroy();
    await q.destroy();
  },
);

redisTest(
  "a frozen server holds no call past its timeout, signal or close(), and nothing is lost or doubled",
  async (url, server) => {
    const name = fresh("frozen");
    const a = await RedisQueue.connect<number>(url, name);
    const b = await RedisQueue.connect<number>(url, name);
    const other = await RedisQueue.connect<number>(url, fresh("frozen-x"));
    await a.put(42);
    server!.pause();
    try {
      let t = performance.now();
      await rejects(a.put(1, { timeout: 200 }), Full);
      ok(performance.now() - t < 1000, `put took ${performance.now() - t}`);
      t = performance.now();
      await rejects(
        a.putMany([2, 3], { signal: AbortSignal.timeout(100) }),
        { name: "TimeoutError" },
      );
      ok(performance.now() - t < 1000, `putMany took ${performance.now() - t}`);
      // A get in flight when its handle closes: the item comes back.
      const got = rejects(b.get(), ClosedError);
      await new Promise((r) => setTimeout(r, 50));
      const closing = b.close();
      await got;
      setTimeout(() => server!.resume(), 300);
      await closing;
    } finally {
      server!.resume();
    }
    // The puts that were applied after their calls ended were taken out.
    strictEqual(await a.get({ timeout: 1000 }), 42);
    await rejects(a.get({ timeout: 200 }), Empty);
    await other.destroy();
    await a.destroy();
  },
  { ownServer: true },
);

redisTest(
  "a dropped connection to the same server does not bring a destroyed queue back",
  async (url) => {
    const name = fresh("resurrect");
    const a = await RedisQueue.connect<number>(url, name);
    const b = await RedisQueue.connect<number>(url, name);
    const other = await RedisQueue.connect<number>(url, fresh("resurrect-x"));
    await a.destroy();
    // Both handles of this process share the link: drop its connections.
    const client = await raw(url);
    try {
      await client.sendCommand([
        "CLIENT",
        "KILL",
        "TYPE",
        "normal",
        "SKIPME",
        "yes",
      ]);
    } finally {
      await client.close();
    }
    await rejects(b.put(1, { timeout: 5000 }), ClosedError);
    deepStrictEqual(await keysOfQueue(url, name), []);
    await b.close();
    await other.destroy();
  },
);

redisTest(
  "a getter that got its item without a wake leaves no registration to spend the next wake on",
  async (url) => {
    const name = fresh("stale");
    const outName = fresh("stale-out");
    const q = await RedisJoinableQueue.connect<number>(url, name, {
      leaseMs: 300,
    });
    const out = await RedisQueue.connect<number>(url, outName);
    await q.put(1);
    // A worker gets 1 and dies holding it.
    const dying = await worker("work", url, name, outName, "1").status;
    strictEqual(dying.signal, "SIGKILL");
    const b = await RedisJoinableQueue.connect<number>(url, name);
    const c = await RedisJoinableQueue.connect<number>(url, name);
    // b waits; the lease runs out and b's poll gets the item (no wake).
    strictEqual(await b.get({ timeout: 5000 }), 1);
    await b.taskDone(); // no lease left to poll for
    const waiting = c.get({ timeout: 4000 });
    await new Promise((r) => setTimeout(r, 50));
    const t = performance.now();
    await q.put(2);
    strictEqual(await waiting, 2);
    ok(
      performance.now() - t < 2000,
      `the wake took ${performance.now() - t} ms`,
    );
    await c.taskDone();
    await q.join({ timeout: 1000 });
    await b.close();
    await c.close();
    await out.destroy();
    await q.destroy();
  },
);

redisTest(
  "destroy() and close() of one handle leave the other handles of the process working",
  async (url) => {
    const a = await RedisQueue.connect<number>(url, fresh("twice"));
    const b = await RedisQueue.connect<number>(url, fresh("twice-b"));
    const destroyed = a.destroy();
    const closed = a.close();
    await destroyed;
    await closed;
    await b.put(1, { timeout: 1000 });
    strictEqual(await b.get({ timeout: 1000 }), 1);
    await rejects(RedisQueue.connect(url, "a}:x"), TypeError);
    await rejects(b.getMany({ maxItems: 1e17 }), RangeError);
    await b.destroy();
  },
);

redisTest(
  "with the server down, a pending taskDone() and qsize() end at close()",
  async (url, server) => {
    const q = await RedisJoinableQueue.connect<number>(url, fresh("down"));
    await q.putMany([1]);
    strictEqual(await q.get(), 1);
    await server!.kill();
    const size = rejects(q.qsize(), ClosedError);
    const done = q.taskDone().then(() => "done", (e) => e.name);
    await new Promise((r) => setTimeout(r, 100));
    await q.close();
    await size;
    ok(["done", "ClosedError"].includes(await done));
  },
  { ownServer: true },
);

redisTest(
  "a server busy with a long script is waited for, not reported",
  async (url) => {
    const q = await RedisQueue.connect<number>(url, fresh("busy"));
    const admin = await raw(url);
    const busy = await raw(url);
    try {
      await admin.sendCommand(["CONFIG", "SET", "busy-reply-threshold", "50"]);
      const loop = busy.sendCommand(["EVAL", "while true do end", "0"])
        .catch((e: Error) => e.message);
      await new Promise((r) => setTimeout(r, 150));
      const put = q.put(1, { timeout: 5000 });
      await new Promise((r) => setTimeout(r, 200));
      await admin.sendCommand(["SCRIPT", "KILL"]);
      match(String(await loop), /killed/i);
      await put;
      strictEqual(await q.get({ timeout: 1000 }), 1);
    } finally {
      await busy.close();
      await admin.close();
    }
    await q.destroy();
  },
  { ownServer: true },
);

redisTest(
  "a process that dies right after the server answered its get or put: joinable items come again, plain ones are gone (at most once), a put counts once",
  async (url) => {
    const jname = fresh("step-j");
    const j = await RedisJoinableQueue.connect<number>(url, jname, {
      leaseMs: 300,
    });
    await j.putMany([1, 2, 3]);
    const jd = await dyingAt(
      "redis:get-replied",
      "step",
      url,
      jname,
      "joinable",
      "get",
    ).status;
    strictEqual(jd.code, 137);
    deepStrictEqual(await j.getMany({ timeout: 5000 }), [1, 2, 3]);
    for (let i = 0; i < 3; i++) await j.taskDone();
    await j.join({ timeout: 1000 });

    const pname = fresh("step-p");
    const p = await RedisQueue.connect<number>(url, pname);
    await p.putMany([1, 2, 3]);
    const pd = await dyingAt(
      "redis:get-replied",
      "step",
      url,
      pname,
      "queue",
      "get",
    ).status;
    strictEqual(pd.code, 137);
    strictEqual(await p.qsize(), 0, "a plain get is at most once");

    const put = await dyingAt(
      "redis:put-replied",
      "step",
      url,
      pname,
      "queue",
      "put",
    ).status;
    strictEqual(put.code, 137);
    deepStrictEqual(await p.getMany({ timeout: 1000 }), [1, 2, 3]);
    await rejects(p.get({ timeout: 100 }), Empty);
    await p.destroy();
    await j.destroy();
  },
);

redisTest(
  "a server that stays frozen: close() still ends, and a qsize() in flight rejects",
  async (url, server) => {
    const q = await RedisQueue.connect<number>(url, fresh("frozen-close"));
    await q.put(1);
    server!.pause();
    try {
      const size = rejects(q.qsize(), ClosedError);
      const got = rejects(q.get(), ClosedError);
      await new Promise((r) => setTimeout(r, 50));
      const t = performance.now();
      await q.close();
      const took = performance.now() - t;
      ok(took < 6000, `close took ${took} ms`);
      await size;
      await got;
    } finally {
      server!.resume();
    }
  },
  { ownServer: true },
);

redisTest(
  "a joinable get given back because its caller had gone does not count as a delivery",
  async (url, server) => {
    const name = fresh("undelivered");
    const q = await RedisJoinableQueue.connect<number>(url, name, {
      maxDeliveries: 1,
      leaseMs: 60_000,
    });
    await q.put(7);
    server!.pause();
    try {
      await rejects(q.get({ timeout: 50 }), Empty);
    } finally {
      setTimeout(() => server!.resume(), 250);
    }
    // The reply came after the call ended: the item went back, undelivered.
    const other = await RedisJoinableQueue.connect<number>(url, name);
    strictEqual(await other.get({ timeout: 5000 }), 7);
    await other.taskDone();
    await q.join({ timeout: 1000 });
    const client = await raw(url);
    try {
      strictEqual(await client.sendCommand(["EXISTS", keysOf(name).dead]), 0);
    } finally {
      await client.close();
    }
    await other.close();
    await q.destroy();
  },
  { ownServer: true },
);

redisTest("getMany({ maxBytes: 0 }) still takes one item", async (url) => {
  const j = await RedisJoinableQueue.connect<number>(url, fresh("bytes0"));
  await j.putMany([1, 2, 3]);
  deepStrictEqual(await j.getMany({ maxBytes: 0, timeout: 1000 }), [1]);
  deepStrictEqual(await j.getMany({ maxBytes: 2, timeout: 1000 }), [2, 3]);
  for (let i = 0; i < 3; i++) await j.taskDone();
  await j.join({ timeout: 1000 });
  const p = await RedisQueue.connect<number>(url, fresh("bytes0p"));
  await p.putMany([1, 2]);
  deepStrictEqual(await p.getMany({ maxBytes: 0, timeout: 1000 }), [1]);
  await p.destroy();
  await j.destroy();
});

redisTest(
  "a get resent after a restart takes a batch that taskDone() then marks",
  async (url, server) => {
    const name = fresh("resent");
    const a = await RedisJoinableQueue.connect<number>(url, name);
    server!.pause();
    const got = a.getMany({ timeout: 20_000 }); // in flight, frozen
    await new Promise((r) => setTimeout(r, 50));
    await server!.kill();
    // Down long enough for a's back-off to reach 1 s: its next try comes
    // well after the restart below.
    await new Promise((r) => setTimeout(r, 1700));
    await server!.restart();
    // Another link (another URL string, same server) makes the queue anew
    // and puts before a reconnects.
    const b = await RedisJoinableQueue.connect<number>(`${url}/0`, name);
    await b.putMany([1, 2]);
    deepStrictEqual(await got, [1, 2]);
    await a.taskDone();
    await a.taskDone();
    await b.join({ timeout: 2000 });
    await a.close();
    await b.destroy();
  },
  { ownServer: true },
);

redisTest(
  "a waiting getter SIGKILLed leaves a registration no wake is spent on",
  async (url) => {
    const name = fresh("dead-waiter");
    const q = await RedisQueue.connect<number>(url, name);
    const waiter = worker("wait", url, name);
    const client = await raw(url);
    try {
      // Until the worker's get is registered on the server.
      while (
        await client.sendCommand(["ZCARD", keysOf(name).getters]) as number ===
          0
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await client.close();
    }
    waiter.kill("SIGKILL");
    strictEqual((await waiter.status).signal, "SIGKILL");
    const other = await RedisQueue.connect<number>(url, name);
    const waiting = other.get({ timeout: 4000 });
    await new Promise((r) => setTimeout(r, 50));
    const t = performance.now();
    await q.put(1);
    strictEqual(await waiting, 1);
    ok(
      performance.now() - t < 2000,
      `the wake took ${performance.now() - t} ms`,
    );
    await other.close();
    await q.destroy();
  },
);
