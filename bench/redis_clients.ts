// npm Redis clients under Deno, measured for a Redis-backed queue.
//
//   deno run -A bench/redis_clients.ts [--n 20000] [--reps 3]
//
// Starts a throwaway redis-server (free TCP port on 127.0.0.1 plus a unix
// socket in /tmp, no persistence) and stops it and removes the socket at the
// end, also on error or Ctrl-C. For node-redis (npm:redis) and ioredis, over
// the unix socket and over TCP loopback, with N items of 24 bytes each:
//   lpush1   LPUSH key item, each awaited            items/s
//   rpop1    RPOP key, each awaited                  items/s
//   lpushB   LPUSH key <1000 items>, each awaited    items/s
//   rpopB    RPOP key 1000, each awaited             items/s
//   evalsha  EVALSHA of `return redis.call('LPUSH', KEYS[1], ARGV[1])`,
//            each awaited                            calls/s
// and asserts that a payload holding all 256 byte values round-trips unchanged
// through each path. BullMQ (with an ioredis connection; it cannot load its
// optional ioredis peer by itself under Deno) is measured with 2000 jobs:
// Queue.add each awaited, Queue.addBulk of 1000, and a Worker of concurrency 1
// processing them (jobs/s). Every cell is the median of REPS runs; runs are
// interleaved, and ioredis/node-redis ratios are taken within each run.
// Prints markdown tables and writes bench/results/redis-clients-<time>.json.
import { Buffer } from "node:buffer";
// deno-lint-ignore no-import-prefix -- pinned for the measurement
import { createClient, RESP_TYPES } from "npm:redis@6.3.1";
// deno-lint-ignore no-import-prefix -- pinned for the measurement
import { Redis } from "npm:ioredis@6.0.0";
// deno-lint-ignore no-import-prefix -- pinned for the measurement
import { Queue, Worker } from "npm:bullmq@6.7.0";
import { RedisServer } from "../tests/_redis_server.ts";
import { median, writeResult } from "./_common.ts";

const arg = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
};
const N = arg("n", 20_000), REPS = arg("reps", 3);
const BATCH = 1000, JOBS = 2000, PAYLOAD = 24;
const LUA = "return redis.call('LPUSH', KEYS[1], ARGV[1])";
const METRICS = ["lpush1", "rpop1", "lpushB", "rpopB", "evalsha"] as const;
type Metric = typeof METRICS[number];
const BULL_METRICS = ["add1", "addBulk", "process"] as const;
type BullMetric = typeof BULL_METRICS[number];

type Transport =
  | { name: "unix"; path: string }
  | { name: "tcp"; host: string; port: number };

/** The few commands a queue needs, with Buffer replies. */
interface Client {
  lpush(key: string, items: Buffer[]): Promise<unknown>;
  rpop(key: string): Promise<Buffer | null>;
  rpopCount(key: string, n: number): Promise<Buffer[] | null>;
  scriptLoad(src: string): Promise<string>;
  evalsha(sha: string, key: string, arg: Buffer): Promise<unknown>;
  del(key: string): Promise<unknown>;
  close(): Promise<unknown>;
}

async function nodeRedis(t: Transport): Promise<Client> {
  const base = createClient({
    socket: t.name === "unix"
      ? { path: t.path, tls: false as const }
      : { host: t.host, port: t.port },
  });
  base.on("error", (e) => console.error("node-redis:", e));
  await base.connect();
  const c = base.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  return {
    lpush: (key, items) => c.lPush(key, items),
    rpop: (key) => c.rPop(key),
    rpopCount: (key, n) => c.rPopCount(key, n),
    scriptLoad: (src) => base.scriptLoad(src),
    evalsha: (sha, key, arg) =>
      c.evalSha(sha, { keys: [key], arguments: [arg] }),
    del: (key) => base.del(key),
    close: () => base.close(),
  };
}

async function ioredis(t: Transport): Promise<Client> {
  const r = new Redis({
    ...(t.name === "unix" ? { path: t.path } : { host: t.host, port: t.port }),
    lazyConnect: true,
  });
  await r.connect();
  return {
    lpush: (key, items) => r.lpush(key, ...items),
    rpop: (key) => r.rpopBuffer(key),
    rpopCount: (key, n) => r.rpopBuffer(key, n),
    scriptLoad: (src) => r.script("LOAD", src) as Promise<string>,
    evalsha: (sha, key, arg) => r.evalsha(sha, 1, key, arg),
    del: (key) => r.del(key),
    close: () => r.quit(),
  };
}

const CLIENTS = { "node-redis": nodeRedis, ioredis };
type ClientName = keyof typeof CLIENTS;

const now = () => performance.now();
const item = (i: number) => Buffer.alloc(PAYLOAD, i);

/** Per second: `count` over the time `f` takes. */
async function rate(count: number, f: () => Promise<unknown>) {
  const t0 = now();
  await f();
  return count / ((now() - t0) / 1000);
}

function assertBytes(
  what: string,
  got: Buffer | null | undefined,
  want: Buffer,
) {
  if (!got || !want.equals(got)) {
    throw new Error(`${what}: got ${got?.toString("hex")}`);
  }
}

async function checkBinary(c: Client, key: string, sha: string) {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await c.lpush(key, [all]);
  assertBytes("RPOP", await c.rpop(key), all);
  await c.lpush(key, [all, all]);
  for (const b of (await c.rpopCount(key, 2)) ?? []) {
    assertBytes("RPOP count", b, all);
  }
  await c.evalsha(sha, key, all);
  assertBytes("EVALSHA", await c.rpop(key), all);
}

async function measure(
  name: ClientName,
  t: Transport,
): Promise<Record<Metric, number>> {
  const c = await CLIENTS[name](t);
  const key = `bench:${name}:${t.name}`;
  try {
    await c.del(key);
    const sha = await c.scriptLoad(LUA);
    await checkBinary(c, key, sha);
    const items = Array.from({ length: N }, (_, i) => item(i));
    const popAll = async (pop: () => Promise<number>) => {
      let got = 0;
      while (got < N) got += await pop();
      if (got !== N) throw new Error(`${name}: popped ${got} of ${N}`);
    };
    const r = {} as Record<Metric, number>;
    r.lpush1 = await rate(N, async () => {
      for (const x of items) await c.lpush(key, [x]);
    });
    r.rpop1 = await rate(
      N,
      () => popAll(async () => (await c.rpop(key)) ? 1 : 0),
    );
    r.lpushB = await rate(N, async () => {
      for (let i = 0; i < N; i += BATCH) {
        await c.lpush(key, items.slice(i, i + BATCH));
      }
    });
    r.rpopB = await rate(
      N,
      () => popAll(async () => (await c.rpopCount(key, BATCH))?.length ?? 0),
    );
    r.evalsha = await rate(N, async () => {
      for (const x of items) await c.evalsha(sha, key, x);
    });
    return r;
  } finally {
    await c.del(key);
    await c.close();
  }
}

async function measureBull(t: Transport): Promise<Record<BullMetric, number>> {
  // BullMQ does not close connections it was given: they would reconnect
  // forever once the server is gone, so they are closed here.
  const conns: Redis[] = [];
  const connection = () => {
    const r = new Redis({
      ...(t.name === "unix"
        ? { path: t.path }
        : { host: t.host, port: t.port }),
      maxRetriesPerRequest: null,
    });
    conns.push(r);
    return r;
  };
  const name = `bench-${t.name}-${crypto.randomUUID()}`;
  const queue = new Queue(name, { connection: connection() });
  const worker = new Worker(name, (job) => Promise.resolve(job.data.i), {
    connection: connection(),
    concurrency: 1,
    autorun: false,
  });
  const jobs = Array.from(
    { length: JOBS },
    (_, i) => ({ name: "j", data: { i } }),
  );
  try {
    const r = {} as Record<BullMetric, number>;
    r.add1 = await rate(JOBS, async () => {
      for (const j of jobs) await queue.add(j.name, j.data);
    });
    await queue.obliterate({ force: true });
    r.addBulk = await rate(JOBS, async () => {
      for (let i = 0; i < JOBS; i += BATCH) {
        await queue.addBulk(jobs.slice(i, i + BATCH));
      }
    });
    const done = Promise.withResolvers<void>();
    let completed = 0;
    worker.on("completed", () => ++completed === JOBS && done.resolve());
    worker.on("failed", (_, e) => done.reject(e));
    await worker.waitUntilReady();
    r.process = await rate(JOBS, () => {
      worker.run();
      return done.promise;
    });
    return r;
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await Promise.all(conns.map((c) => c.quit()));
  }
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const row = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;

async function main() {
  const server = await RedisServer.start();
  const transports: Transport[] = [
    { name: "unix", path: server.socket },
    { name: "tcp", host: "127.0.0.1", port: server.port },
  ];
  const onSignal = () => server.stop().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const runs: Record<string, string | number>[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      for (const t of transports) {
        for (const client of Object.keys(CLIENTS) as ClientName[]) {
          runs.push({
            client,
            transport: t.name,
            rep,
            ...await measure(client, t),
          });
        }
        runs.push({
          client: "bullmq",
          transport: t.name,
          rep,
          ...await measureBull(t),
        });
        console.error(`rep ${rep + 1}/${REPS} ${t.name} done`);
      }
    }
    const pick = (client: string, transport: string) =>
      runs.filter((r) => r.client === client && r.transport === transport);
    const med = (rs: typeof runs, m: string) => median(rs.map((r) => +r[m]));
    const results = [], ratios = [];
    const lines = [
      row(["client", "transport", ...METRICS]),
      row(Array(2 + METRICS.length).fill("---")),
    ];
    for (const { name: transport } of transports) {
      for (const client of Object.keys(CLIENTS)) {
        const rs = pick(client, transport);
        const m = Object.fromEntries(METRICS.map((k) => [k, med(rs, k)]));
        results.push({ client, transport, median: m, runs: rs });
        lines.push(row([client, transport, ...METRICS.map((k) => fmt(m[k]))]));
      }
      const [nr, io] = [
        pick("node-redis", transport),
        pick("ioredis", transport),
      ];
      const ratio = Object.fromEntries(
        METRICS.map((k) => [
          k,
          median(nr.map((r, i) => +io[i][k] / +r[k])),
        ]),
      );
      ratios.push({ transport, ioredisOverNodeRedis: ratio });
      lines.push(row([
        "ioredis / node-redis",
        transport,
        ...METRICS.map((k) => ratio[k].toFixed(2)),
      ]));
    }
    lines.push("", row(["bullmq (ioredis)", "transport", ...BULL_METRICS]));
    lines.push(row(Array(2 + BULL_METRICS.length).fill("---")));
    const bullmq = transports.map(({ name: transport }) => {
      const rs = pick("bullmq", transport);
      const m = Object.fromEntries(BULL_METRICS.map((k) => [k, med(rs, k)]));
      lines.push(
        row(["jobs/s", transport, ...BULL_METRICS.map((k) => fmt(m[k]))]),
      );
      return { transport, median: m, runs: rs };
    });
    console.log(lines.join("\n"));
    await writeResult("redis-clients", {
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      versions: { redis: "6.3.1", ioredis: "6.0.0", bullmq: "6.7.0" },
      n: N,
      batch: BATCH,
      jobs: JOBS,
      payload: PAYLOAD,
      reps: REPS,
      results,
      ratios,
      bullmq,
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    await server.stop();
  }
}

await main();
