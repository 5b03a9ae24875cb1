// How @mp/queues behaves with many pending get() calls in one process.
//
//   deno run -A bench/waits.ts [--pending 0,10,100,1000,10000]
//
// For each PENDING value, ceil(PENDING/10) idle queues get 10 pending get()s
// each (no timeout; no item ever arrives). After 200 ms, this process measures:
//   timeout  get({ timeout: 100 }) on a fresh queue until it rejects with Empty
//            (5 reps; ideal: 100 ms)
//   rtt      ping-pong round trip with a worker (bench/workers/waits_echo.ts):
//            20 warm-up, then 200 timed
//   threads  the `Threads:` line of /proc/self/status
//   abort    get({ signal }) on a fresh queue, abort() after 50 ms: time from
//            abort() to the rejection (5 reps)
//   close10  close() of one idle queue until its 10 gets have rejected
//   cleanup  close every queue, stop the worker, await every pending get
// A measurement stops after 30 s and reports "timeout n/total" (samples taken,
// warm-up included) and the stats of those it got; a cleanup step that takes
// over 60 s prints what hangs and exits 1.
// Prints a markdown table (ms), one row per PENDING value, then one JSON line.
import { ClosedError, Empty, Queue, spawn } from "../mod.ts";

const GUARD_MS = 30_000, CLEANUP_MS = 60_000;
const ECHO = new URL("./workers/waits_echo.ts", import.meta.url);
const flag = Deno.args.indexOf("--pending");
const PENDING = flag >= 0
  ? Deno.args[flag + 1].split(",").map(Number)
  : [0, 10, 100, 1000, 10000];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const times = <T>(n: number, f: () => T) => Array.from({ length: n }, f);
const procStatus = () => Deno.readTextFileSync("/proc/self/status");

/** Resolves to `f()`, or to "timeout" after `ms` (`f` keeps running). */
async function guard<T>(f: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer;
  const late = new Promise<"timeout">((r) =>
    timer = setTimeout(() => r("timeout"), ms)
  );
  try {
    return await Promise.race([f, late]);
  } finally {
    clearTimeout(timer);
  }
}

type Key = "min" | "med" | "p95" | "max";
type Stat = { n: string; timeout?: true } & { [k in Key]?: number };
/** Runs `f(ms, more)` for at most 30 s; `f` pushes samples into `ms` while
 * `more()`; the first `skip` are warm-up; `running` collects `f`'s promise. */
async function measure(
  total: number,
  running: Promise<unknown>[],
  f: (ms: number[], more: () => boolean) => Promise<void>,
  skip = 0,
): Promise<Stat> {
  const ms: number[] = [];
  let late = false;
  const run = f(ms, () => !late && ms.length < total);
  running.push(run.catch(() => {}));
  late = await guard(run, GUARD_MS) === "timeout";
  const s = ms.slice(skip).sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return {
    n: `${ms.length}/${total}`,
    ...(late ? { timeout: true } : {}),
    ...(s.length ? { min: s[0], med: at(0.5), p95: at(0.95), max: at(1) } : {}),
  };
}

/** Milliseconds from `t0` until `p` rejects with an error named `want`. */
async function rejectsAfter(p: Promise<unknown>, want: string, t0: number) {
  try {
    await p;
  } catch (e) {
    if ((e as Error).name === want) return now() - t0;
    throw e;
  }
  throw new Error(`expected ${want}, got an item`);
}

async function run(pending: number) {
  const running: Promise<unknown>[] = [];
  // 1. Idle queues, 10 pending gets each; a get resolves to its error's name.
  const idle = times(Math.ceil(pending / 10), () => new Queue<number>());
  let early = 0;
  const gets = idle.map((q) =>
    times(10, () => q.get().then(() => "item", (e: Error) => e.name))
  );
  gets.flat().forEach((p) => p.finally(() => early++));
  await sleep(200); // 2. let them settle
  const settledEarly = early;

  // 3a. get({ timeout: 100 }) on a fresh empty queue.
  const probe = new Queue<number>();
  const timeout = await measure(5, running, async (ms, more) => {
    while (more()) {
      const t0 = now(); // before the call, which fixes its deadline
      ms.push(await rejectsAfter(probe.get({ timeout: 100 }), Empty.name, t0));
    }
  });
  // 3b. Ping-pong: put i on A, the worker puts it back on B.
  const a = new Queue<number>(), b = new Queue<number>();
  const worker = spawn(ECHO, { args: [a, b] });
  const rtt = await measure(220, running, async (ms, more) => {
    for (let i = 0; more(); i++) {
      const t0 = now();
      await a.put(i);
      if (await b.get() !== i) throw new Error("echo out of order");
      ms.push(now() - t0);
    }
  }, 20);
  // 3c. Threads of this process.
  const threads = Number(/Threads:\s+(\d+)/.exec(procStatus())![1]);
  // 3d. abort() of a pending get({ signal }).
  const abortQ = new Queue<number>();
  const abort = await measure(5, running, async (ms, more) => {
    while (more()) {
      const ctrl = new AbortController();
      const p = abortQ.get({ signal: ctrl.signal });
      p.catch(() => {});
      await sleep(50);
      const t0 = now();
      ctrl.abort();
      ms.push(await rejectsAfter(p, "AbortError", t0));
    }
  });
  // 3e. close() of one idle queue until its 10 gets have rejected.
  const close10: Stat | "n/a" = idle.length === 0
    ? "n/a"
    : await measure(1, running, async (ms) => {
      const t0 = now();
      idle[0].close();
      const names = await Promise.all(gets[0]);
      if (names.some((n) => n !== ClosedError.name)) {
        throw new Error(`${names}`);
      }
      ms.push(now() - t0);
    });

  // 4. Clean up: every get must settle, the worker must exit.
  const t0 = now();
  const steps: [string, () => Promise<unknown>][] = [
    ["closing the idle queues (their gets)", () => {
      idle.forEach((q) => q.close());
      return Promise.all(gets.flat());
    }],
    ["stopping the worker", async () => {
      await a.put(-1);
      [a, b, probe, abortQ].forEach((q) => q.close());
      await a.joinThread();
      return await worker.status;
    }],
    ["settling the measurements", () => Promise.all(running)],
  ];
  for (const [what, step] of steps) {
    if (await guard(step(), CLEANUP_MS - (now() - t0)) === "timeout") {
      console.error(`pending=${pending}: cleanup hangs ${what}`);
      worker.kill("SIGKILL");
      Deno.exit(1);
    }
  }
  const cleanup = now() - t0;
  const [queues, r] = [idle.length, { timeout, rtt, abort, close10, cleanup }];
  return { pending, queues, settledEarly, threads, ...r };
}

const cell = (s: Stat | "n/a", keys: Key[], digits = 1) =>
  s === "n/a" ? s : (s.timeout ? `timeout ${s.n}: ` : "") +
    keys.map((k) => s[k]?.toFixed(digits) ?? "-")
      .join(" / ");

const git = (...args: string[]) => new Deno.Command("git", { args }).output();
const head = (await git("rev-parse", "--short", "HEAD")).stdout;
const commit = new TextDecoder().decode(head).trim();
// Uncommitted changes to tracked files (queues/ ...) make `commit` misleading.
const dirty = !(await git("diff", "--quiet", "HEAD", "--")).success;
const tree = dirty ? " (dirty tree)" : "";
console.log(
  `commit ${commit}${tree}, deno ${Deno.version.deno}, ${
    new Date().toISOString()
  }\n`,
);
console.log(
  "| pending | queues | threads | timeout: min / med / max | rtt: med / p95 | abort: med / max | close10 | cleanup |",
);
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
const results = [];
for (const pending of PENDING) {
  const r = await run(pending);
  results.push(r);
  const cols = [
    r.pending,
    r.queues,
    r.threads,
    cell(r.timeout, ["min", "med", "max"]),
    cell(r.rtt, ["med", "p95"], 3),
    cell(r.abort, ["med", "max"]),
    cell(r.close10, ["max"]),
    r.cleanup.toFixed(1),
  ];
  const note = r.settledEarly ? ` ${r.settledEarly} gets settled early!` : "";
  console.log(`| ${cols.join(" | ")} |${note}`);
}
const date = new Date().toISOString();
console.log(JSON.stringify(
  { commit, dirty, date, deno: Deno.version.deno, results },
  (_k, v) => typeof v === "number" ? Math.round(v * 1000) / 1000 : v,
));
