// Cross-process benchmark of @mp/queues against its baselines (issue 5).
//
//   deno task bench:ipc                 # full run (3 repetitions per cell)
//   deno task bench:ipc:quick           # --quick: 1 repetition, item counts / 20
//   deno run -A bench/ipc.ts [--quick] [--reps N] [--budget S] [--only <system id substring>] [--timeout S]
//
// --reps N (default 3, quick 1) is the most repetitions per (system, scenario); a scenario
// stops repeating once its repetitions took more than --budget S seconds (default 2), so a
// slow cell may have fewer (at least 1; the tables list them). Item counts never change.
//
// Each (system, scenario group) runs in a fresh "cell" process: this file again, with
// `--cell`, started under `setsid` so a hung cell can be killed with its workers. The
// pinned latency column (L1p) runs the cell under `taskset -c 0`, so the cell and every
// process it starts (they inherit the affinity) share CPU 0.
//
// Throughput protocol: the cell process is the producer and the clock; the consumer
// signals "ready" on a back channel, the producer starts the clock, sends N items, and
// stops it when the consumer's "done" (sent after it received all N) arrives. The
// Deno.Command row is the other way round (the child writes to its stdout, which is the
// only direction that system offers for the data): the parent is the consumer and the
// clock; it starts the clock when it sends the child a "go" byte after the child's
// "ready" frame, and stops it when it has decoded the N-th frame.
// L1: the clock process sends a small object on one channel, the peer echoes it back on
// another; warm-up round trips first, then the timed ones.
//
// Prints markdown tables and writes bench/results/<timestamp>.json.

import { Decoder, Encoder } from "@msgpack/msgpack";
import { Queue, SimpleQueue, spawn, type WorkerProcess } from "../mod.ts";
import { type Group, renderChart } from "./_chart.ts";
import {
  BYTE_SCENARIOS,
  emit,
  frame,
  FrameReader,
  l1Counts,
  latencyStats,
  median,
  memKiB,
  payloadOf,
  QUICK_DIV,
  scenario,
  small,
  SMALL_PAYLOAD,
} from "./_common.ts";

const HERE = new URL(".", import.meta.url);
const MPQ_WORKER = new URL("./workers/mpq_worker.ts", HERE);
const CMD_CHILD = new URL("./workers/cmd_child.ts", HERE).pathname;
const PM_WORKER = new URL("./workers/postmessage_worker.ts", HERE);
const PY_SCRIPT = new URL("./py_mp.py", HERE).pathname;
const C_SOURCE = new URL("./c/cpipe.c", HERE).pathname;
const C_BINARY = new URL("./results/cpipe", HERE).pathname;
// -A: the memory scenario's worker reads /proc/self/status, which Deno only allows with -A.
const WORKER_PERMS = ["-A"];

type AnyQ = Queue<unknown> | SimpleQueue<unknown>;
/** Repetitions every cell runs, whatever their time (fewer only with --reps). */
const MIN_REPS = 3;
type Rec = Record<string, unknown> & { sys: string; sc: string };

const LABELS: Record<string, string> = {
  queue: "@mp/queues Queue (put/get)",
  simple: "@mp/queues SimpleQueue",
  batch: "@mp/queues Queue putMany/getMany (1024)",
  "py-queue": "Python mp.Queue",
  "py-simple": "Python mp.SimpleQueue",
  cmd: "Deno.Command stdout + msgpack (writeSync)",
  worker: "Deno Worker postMessage [threads]",
  c: "C raw pipe, one write per frame, 1 MiB pipe",
  cbatch: "C raw pipe, frames batched in 64 KiB writes, 1 MiB pipe",
  limit: "C limit (the faster C row)",
};

// ---------------------------------------------------------------- cell side

async function closeAll(...qs: AnyQ[]): Promise<void> {
  for (const q of qs) {
    q.close();
    if ("joinThread" in q) await q.joinThread();
  }
}

/** Rejects when one of `ws` exits unsuccessfully (so a crashed worker fails the cell, not hangs it). */
function died(ws: WorkerProcess[]): Promise<never> {
  return new Promise((_, reject) => {
    for (const w of ws) {
      w.status.then((st) => {
        if (!st.success) {
          reject(new Error(`worker ${w.pid} exited with ${st.code}`));
        }
      });
    }
  });
}

async function expect(
  q: AnyQ,
  what: string,
  guard?: Promise<never>,
): Promise<void> {
  const m = guard ? await Promise.race([q.get(), guard]) : await q.get();
  if (m !== what) throw new Error(`expected ${what}, got ${JSON.stringify(m)}`);
}

async function exited(w: WorkerProcess, what: string): Promise<void> {
  const st = await w.status;
  if (!st.success) throw new Error(`${what} worker exited with ${st.code}`);
}

function mkQueue(sys: string): AnyQ {
  return sys === "simple" ? new SimpleQueue() : new Queue();
}

async function mpqThroughput(sys: string, sc: string, quick: boolean) {
  const { n, size } = scenario(sc, quick);
  const q = mkQueue(sys), back = mkQueue(sys);
  const batch = sys === "batch";
  const w = spawn(MPQ_WORKER, {
    args: ["consume", q, back, n, batch],
    permissions: WORKER_PERMS,
  });
  const guard = died([w]);
  await expect(back, "ready", guard);
  const payload = size === null ? null : payloadOf(size);
  const t0 = performance.now();
  if (sc.startsWith("N")) {
    // A synchronous loop, as a Python user writes put_nowait() in a loop.
    const qq = q as Queue<unknown>;
    if (payload === null) {
      for (let i = 0; i < n; i++) qq.putNowait(small(i));
    } else for (let i = 0; i < n; i++) qq.putNowait(payload);
  } else if (batch) {
    const qq = q as Queue<unknown>;
    for (let o = 0; o < n; o += 1024) {
      const end = Math.min(n, o + 1024);
      const chunk: unknown[] = new Array(end - o);
      for (let i = o; i < end; i++) chunk[i - o] = payload ?? small(i);
      await qq.putMany(chunk);
    }
  } else if (payload === null) {
    for (let i = 0; i < n; i++) await q.put(small(i));
  } else {
    for (let i = 0; i < n; i++) await q.put(payload);
  }
  await expect(back, "done", guard);
  const t1 = performance.now();
  await closeAll(q, back);
  await exited(w, "consumer");
  return { n, payload: size ?? SMALL_PAYLOAD, secs: (t1 - t0) / 1e3 };
}

async function mpqLatency(sys: string, quick: boolean) {
  const { n, warm } = l1Counts(quick);
  const q1 = mkQueue(sys), q2 = mkQueue(sys);
  const w = spawn(MPQ_WORKER, {
    args: ["echo", q1, q2, n + warm],
    permissions: WORKER_PERMS,
  });
  const rtt: number[] = [];
  for (let i = 0; i < n + warm; i++) {
    const t = performance.now();
    await q1.put(small(i));
    await q2.get();
    const d = performance.now() - t;
    if (i >= warm) rtt.push(d);
  }
  await closeAll(q1, q2);
  await exited(w, "echo");
  return { n, payload: SMALL_PAYLOAD, ...latencyStats(rtt) };
}

async function cmdThroughput(sc: string, quick: boolean) {
  const { n, size } = scenario(sc, quick);
  const dec = new Decoder();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", CMD_CHILD, sc, String(n)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const fr = new FrameReader(child.stdout.getReader());
  const w = child.stdin.getWriter();
  if (dec.decode(await fr.next()) !== "ready") throw new Error("no ready");
  const t0 = performance.now();
  await w.write(new Uint8Array([1]));
  for (let i = 0; i < n; i++) dec.decode(await fr.next());
  const t1 = performance.now();
  await w.close();
  await child.status;
  return { n, payload: size ?? SMALL_PAYLOAD, secs: (t1 - t0) / 1e3 };
}

async function cmdLatency(quick: boolean) {
  const { n, warm } = l1Counts(quick);
  const enc = new Encoder(), dec = new Decoder();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", CMD_CHILD, "L1", String(n + warm)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const fr = new FrameReader(child.stdout.getReader());
  const w = child.stdin.getWriter();
  const rtt: number[] = [];
  for (let i = 0; i < n + warm; i++) {
    const t = performance.now();
    await w.write(frame(enc.encodeSharedRef(small(i))));
    dec.decode(await fr.next());
    const d = performance.now() - t;
    if (i >= warm) rtt.push(d);
  }
  await w.close();
  await child.status;
  return { n, payload: SMALL_PAYLOAD, ...latencyStats(rtt) };
}

function startPmWorker(cfg: unknown) {
  const worker = new Worker(PM_WORKER, { type: "module" });
  let onMsg: (m: unknown) => void = () => {};
  worker.onmessage = (e) => onMsg(e.data);
  const ready = new Promise<void>((
    res,
  ) => (onMsg = (m) => m === "ready" && res()));
  worker.postMessage(cfg);
  return {
    worker,
    ready,
    setHandler: (h: (m: unknown) => void) => (onMsg = h),
  };
}

async function workerThroughput(sc: string, quick: boolean) {
  const { n, size } = scenario(sc, quick);
  const pm = startPmWorker({ mode: "count", n });
  await pm.ready;
  const done = new Promise<void>((res) =>
    pm.setHandler((m) => m === "done" && res())
  );
  const t0 = performance.now();
  if (size === null) {
    for (let i = 0; i < n; i++) pm.worker.postMessage(small(i));
  } else {
    const payload = payloadOf(size);
    for (let i = 0; i < n; i++) pm.worker.postMessage(payload);
  }
  await done;
  const t1 = performance.now();
  pm.worker.terminate();
  return { n, payload: size ?? SMALL_PAYLOAD, secs: (t1 - t0) / 1e3 };
}

async function workerLatency(quick: boolean) {
  const { n, warm } = l1Counts(quick);
  const pm = startPmWorker({ mode: "echo" });
  await pm.ready;
  let resolve: (m: unknown) => void = () => {};
  pm.setHandler((m) => resolve(m));
  const rtt: number[] = [];
  for (let i = 0; i < n + warm; i++) {
    const t = performance.now();
    const p = new Promise((res) => (resolve = res));
    pm.worker.postMessage(small(i));
    await p;
    const d = performance.now() - t;
    if (i >= warm) rtt.push(d);
  }
  pm.worker.terminate();
  return { n, payload: SMALL_PAYLOAD, ...latencyStats(rtt) };
}

/** Resets this process's VmHWM to its current RSS (Linux: clear_refs "5"). */
function resetPeak(): void {
  Deno.writeTextFileSync("/proc/self/clear_refs", "5");
}

/** 1 GiB (quick: 64 MiB) streamed as 1 MiB items through a Queue with maxsize 8. */
async function memoryScenario(quick: boolean) {
  const size = 1 << 20;
  const count = quick ? 64 : 1024;
  const q = new Queue<Uint8Array>({ maxsize: 8 });
  const back = new Queue<unknown>();
  const w = spawn(MPQ_WORKER, {
    args: ["memprod", q, back, count, size],
    permissions: WORKER_PERMS,
  });
  const guard = died([w]);
  const ready = await Promise.race([back.get(), guard]) as { ready: boolean };
  if (!ready.ready) throw new Error("no ready");
  resetPeak();
  const idle = memKiB();
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += (await q.get()).length;
  const t1 = performance.now();
  const peak = memKiB().hwm;
  const rep = await Promise.race([back.get(), guard]) as {
    idle_rss_kib: number;
    peak_kib: number;
  };
  await closeAll(q, back);
  await exited(w, "memprod");
  if (bytes !== count * size) throw new Error(`got ${bytes} bytes`);
  return {
    n: count,
    payload: size,
    secs: (t1 - t0) / 1e3,
    consumer_idle_kib: idle.rss,
    consumer_peak_kib: peak,
    consumer_delta_mib: (peak - idle.rss) / 1024,
    producer_idle_kib: rep.idle_rss_kib,
    producer_peak_kib: rep.peak_kib,
    producer_delta_mib: (rep.peak_kib - rep.idle_rss_kib) / 1024,
  };
}

/** 4 producers x 4 consumers, 200,000 small items in total (quick: 1/10). */
async function contentionScenario(sys: string, quick: boolean) {
  const P = 4, C = 4;
  const total = quick ? 200_000 / QUICK_DIV : 200_000;
  const per = total / P;
  const q = mkQueue(sys), back = mkQueue(sys), go = mkQueue(sys);
  const ws: WorkerProcess[] = [];
  for (let k = 0; k < P; k++) {
    ws.push(spawn(MPQ_WORKER, {
      args: ["cprod", q, back, go, k * per, per],
      permissions: WORKER_PERMS,
    }));
  }
  for (let k = 0; k < C; k++) {
    ws.push(spawn(MPQ_WORKER, {
      args: ["ccons", q, back, total],
      permissions: WORKER_PERMS,
    }));
  }
  const guard = died(ws);
  for (let k = 0; k < P + C; k++) await expect(back, "ready", guard);
  const t0 = performance.now();
  for (let k = 0; k < P; k++) await go.put("go");
  for (let k = 0; k < P; k++) await expect(back, "pdone", guard);
  for (let k = 0; k < C; k++) await q.put(null);
  const reports: { count: number; bad: number; seen: Uint8Array }[] = [];
  for (let k = 0; k < C; k++) {
    reports.push(await Promise.race([back.get(), guard]) as typeof reports[0]);
  }
  const t1 = performance.now();
  await closeAll(q, back, go);
  for (const w of ws) await exited(w, "contention");
  const seen = new Uint8Array(total);
  for (const r of reports) for (let i = 0; i < total; i++) seen[i] += r.seen[i];
  let ones = 0;
  for (let i = 0; i < total; i++) if (seen[i] === 1) ones++;
  const count = reports.reduce((a, r) => a + r.count, 0);
  const ok = count === total && ones === total &&
    reports.every((r) => r.bad === 0);
  return {
    n: total,
    payload: SMALL_PAYLOAD,
    secs: (t1 - t0) / 1e3,
    ok,
    per_consumer: reports.map((r) => r.count),
  };
}

async function runCell(
  sys: string,
  scs: string[],
  reps: number,
  quick: boolean,
  budgetS: number,
) {
  for (const sc of scs) {
    const start = performance.now();
    for (let rep = 0; rep < reps; rep++) {
      // Fewer repetitions (never fewer than MIN_REPS) where they take long.
      if (rep >= MIN_REPS && (performance.now() - start) / 1e3 > budgetS) break;
      let r: Record<string, unknown>;
      // Peak RSS of this process (the producer of a throughput cell) above
      // what it had before the scenario began.
      resetPeak();
      const before = memKiB().rss;
      if (sc === "MEM") r = await memoryScenario(quick);
      else if (sc === "C") r = await contentionScenario(sys, quick);
      else if (sys === "cmd") {
        r = sc === "L1"
          ? await cmdLatency(quick)
          : await cmdThroughput(sc, quick);
      } else if (sys === "worker") {
        r = sc === "L1"
          ? await workerLatency(quick)
          : await workerThroughput(sc, quick);
      } else {
        r = sc === "L1"
          ? await mpqLatency(sys, quick)
          : await mpqThroughput(sys, sc, quick);
      }
      if (sc !== "MEM") {
        r.rss_before_mib = before / 1024;
        r.rss_peak_mib = memKiB().hwm / 1024;
      }
      emit({ sys: LABELS[sys], sc, rep, ...r });
    }
  }
}

// ---------------------------------------------------------- orchestrator

interface Cell {
  sys: string;
  scs: string[];
  pinned: boolean;
  reps: number;
}

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args }).output()).success;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) return "";
    const td = new TextDecoder();
    return (td.decode(out.stdout) || td.decode(out.stderr)).trim();
  } catch {
    return "";
  }
}

async function runCellProcess(
  cell: Cell,
  quick: boolean,
  timeoutS: number,
  budgetS: number,
  hasPython: boolean,
  hasC: boolean,
): Promise<{ recs: Rec[]; errors: string[] }> {
  const isPy = cell.sys.startsWith("py-");
  const isC = cell.sys === "c" || cell.sys === "cbatch";
  if (isPy && !hasPython) return { recs: [], errors: [] };
  if (isC && !hasC) return { recs: [], errors: [] };
  const inner = isC
    ? [
      C_BINARY,
      cell.scs[0],
      String(cell.reps),
      cell.sys === "c" ? "frame" : "batch",
      "psz=1048576",
    ]
    : isPy
    ? [
      "python3",
      PY_SCRIPT,
      cell.sys === "py-queue" ? "queue" : "simplequeue",
      cell.scs.join(","),
      String(cell.reps),
      quick ? "quick" : "full",
      String(budgetS),
    ]
    : [
      Deno.execPath(),
      "run",
      "-q",
      "-A",
      new URL(import.meta.url).pathname,
      "--cell",
      cell.sys,
      cell.scs.join(","),
      String(cell.reps),
      quick ? "1" : "0",
      String(budgetS),
    ];
  const argv = [...(cell.pinned ? ["taskset", "-c", "0"] : []), ...inner];
  const shown = argv.map((a) => a.replace(Deno.cwd() + "/", "")).join(" ");
  const t0 = performance.now();
  const child = new Deno.Command("setsid", {
    args: argv,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL"); // the cell's process group: the cell and its workers
    } catch { /* already gone */ }
  }, timeoutS * 1000);
  const out = await child.output();
  clearTimeout(timer);
  const secs = (performance.now() - t0) / 1e3;
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr).trim();
  const recs: Rec[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const r = JSON.parse(line) as Rec;
    if (isPy || isC) r.sys = LABELS[cell.sys];
    if (cell.pinned && r.sc === "L1") r.sc = "L1p";
    recs.push(r);
  }
  const errors: string[] = [];
  if (timedOut) {
    errors.push(`TIMEOUT after ${timeoutS}s (killed): ${shown}`);
  } else if (!out.success) {
    errors.push(
      `exit ${out.code}${out.signal ? " " + out.signal : ""}: ${shown}`,
    );
  }
  if (errors.length && stderr) errors.push("  stderr: " + stderr.slice(-1500));
  console.error(
    `  [${secs.toFixed(1)}s] ${shown}${errors.length ? "  <-- FAILED" : ""}`,
  );
  return { recs, errors };
}

function fmtRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(0)}k`;
  return x.toFixed(0);
}

/** Throughput value of a cell: msgs/s (T1, T2, C) or MB/s (T3, T4), at the median time. */
function tput(rs: Rec[], sc: string): number | undefined {
  if (!rs.length) return undefined;
  const secs = median(rs.map((r) => r.secs as number));
  const n = rs[0].n as number, payload = rs[0].payload as number;
  return BYTE_SCENARIOS.has(sc) ? (n * payload) / secs / 1e6 : n / secs;
}

function fmtTput(
  v: number | undefined,
  ref: number | undefined,
  sc: string,
): string {
  if (v === undefined) return "—";
  const s = BYTE_SCENARIOS.has(sc) ? v.toFixed(0) : fmtRate(v);
  return ref ? `${s} (${(v / ref).toFixed(2)}×)` : s;
}

/** Median / p99 round trip; in parentheses the median's ratio to `refs`'. */
function fmtLat(rs: Rec[], refs: Rec[] = []): string {
  if (!rs.length) return "—";
  const med = median(rs.map((r) => r.med_us as number));
  const p99 = median(rs.map((r) => r.p99_us as number));
  const ref = refs.length ? median(refs.map((r) => r.med_us as number)) : 0;
  return `${med.toFixed(1)} / ${p99.toFixed(0)}${
    ref ? ` (${(med / ref).toFixed(2)}×)` : ""
  }`;
}

/** The records of system label `sys` in scenario `sc` that did not fail. */
function recordsOf(recs: Rec[], sys: string, sc: string): Rec[] {
  return recs.filter((r) => r.sys === sys && r.sc === sc && !("error" in r));
}

function renderTables(recs: Rec[], order: string[], maxReps: number): string {
  const by = (sys: string, sc: string) => recordsOf(recs, sys, sc);
  const ref = LABELS["py-queue"];
  const lines: string[] = [];
  const tputScs = ["T1", "T2", "T3", "T4", "N1", "N4"];
  lines.push(
    "| system | T1 small msgs/s | T2 1KiB msgs/s | T3 64KiB MB/s | T4 1MiB MB/s | N1 putNowait loop, small msgs/s | N4 putNowait loop, 1MiB MB/s | L1 med / p99 µs | L1 pinned (CPU 0) med / p99 µs |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const id of order) {
    const sys = LABELS[id];
    if (![...tputScs, "L1", "L1p"].some((sc) => by(sys, sc).length)) continue;
    const cells = tputScs.map((sc) =>
      fmtTput(
        tput(by(sys, sc), sc),
        sys === ref ? undefined : tput(by(ref, sc), sc),
        sc,
      )
    );
    const lat = ["L1", "L1p"].map((sc) =>
      fmtLat(by(sys, sc), sys === ref ? [] : by(ref, sc))
    );
    lines.push(`| ${sys} | ${cells.join(" | ")} | ${lat.join(" | ")} |`);
  }
  lines.push(
    "",
    "Peak RSS of the producer (the process that puts and keeps the clock) above its RSS before the scenario, MiB (VmHWM, median over repetitions):",
    "",
    `| system | ${tputScs.join(" | ")} |`,
    `|---|${tputScs.map(() => "---:").join("|")}|`,
  );
  for (const id of order) {
    const sys = LABELS[id];
    const cells = tputScs.map((sc) => {
      const rs = by(sys, sc).filter((r) => "rss_peak_mib" in r);
      if (!rs.length) return "—";
      return median(
        rs.map((r) =>
          (r.rss_peak_mib as number) - (r.rss_before_mib as number)
        ),
      ).toFixed(1);
    });
    if (cells.every((c) => c === "—")) continue;
    lines.push(`| ${sys} | ${cells.join(" | ")} |`);
  }
  const few: string[] = [];
  for (const id of order) {
    for (const sc of ["T1", "T2", "T3", "T4", "N1", "N4", "L1", "L1p", "C"]) {
      const k = by(LABELS[id], sc).length;
      if (k > 0 && k < maxReps) few.push(`${LABELS[id]} ${sc}: ${k}`);
    }
  }
  if (few.length) {
    lines.push(
      "",
      `Cells with fewer than ${maxReps} repetitions (time budget): ${
        few.join("; ")
      }.`,
    );
  }
  const cont = order.filter((id) => by(LABELS[id], "C").length);
  if (cont.length) {
    lines.push(
      "",
      "Contention: 4 producer × 4 consumer processes, one queue, small objects (T1 item), every id checked exactly once.",
      "",
      "| system | items | msgs/s (median) | every item exactly once | items per consumer (last rep) |",
      "|---|---:|---:|---|---|",
    );
    const refC = tput(by(ref, "C"), "C");
    for (const id of cont) {
      const rs = by(LABELS[id], "C");
      const v = tput(rs, "C");
      lines.push(
        `| ${LABELS[id]} | ${rs[0].n} | ${
          fmtTput(v, id === "py-queue" ? undefined : refC, "C")
        } | ${rs.every((r) => r.ok) ? "yes" : "**NO**"} (${rs.length} reps) | ${
          (rs[rs.length - 1].per_consumer as number[]).join(", ")
        } |`,
      );
    }
  }
  const mem = by(LABELS.queue, "MEM");
  if (mem.length) {
    const m = mem[mem.length - 1];
    const mib = ((m.n as number) * (m.payload as number)) / (1 << 20);
    lines.push(
      "",
      `Memory: ${mib} MiB streamed as 1 MiB items through Queue({maxsize: 8}) (msgpack), producer = worker, consumer = cell process.`,
      "",
      "| process | idle RSS MiB | peak RSS (VmHWM) MiB | peak − idle MiB |",
      "|---|---:|---:|---:|",
      `| producer (worker) | ${
        ((m.producer_idle_kib as number) / 1024).toFixed(1)
      } | ${((m.producer_peak_kib as number) / 1024).toFixed(1)} | ${
        (m.producer_delta_mib as number).toFixed(1)
      } |`,
      `| consumer | ${((m.consumer_idle_kib as number) / 1024).toFixed(1)} | ${
        ((m.consumer_peak_kib as number) / 1024).toFixed(1)
      } | ${(m.consumer_delta_mib as number).toFixed(1)} |`,
      "",
      `(streamed at ${
        (((m.n as number) * (m.payload as number)) / (m.secs as number) / 1e6)
          .toFixed(0)
      } MB/s)`,
    );
  }
  return lines.join("\n");
}

/** The systems of the chart, in legend order. */
const CHART_SYSTEMS = ["queue", "py-queue", "worker", "limit"];

/** The chart's groups: every scenario where Python's value is known. */
function chartGroups(recs: Rec[]): Group[] {
  const by = (id: string, sc: string) => recordsOf(recs, LABELS[id], sc);
  const groups: Group[] = [];
  const titles: Record<string, string> = {
    T1: "T1 small",
    T2: "T2 1 KiB",
    T3: "T3 64 KiB",
    T4: "T4 1 MiB",
    N1: "N1 putNowait",
    N4: "N4 putNowait",
    L1: "L1 round trip",
    L1p: "L1p pinned round trip",
    C: "C 4×4 small",
  };
  for (const sc of Object.keys(titles)) {
    const latency = sc.startsWith("L1");
    const value = (rs: Rec[]): number | undefined =>
      !rs.length
        ? undefined
        : latency
        ? 1e6 / median(rs.map((r) => r.med_us as number))
        : tput(rs, sc);
    const reference = value(by("py-queue", sc));
    if (reference === undefined) continue;
    const bars = [];
    for (const id of CHART_SYSTEMS) {
      // A putNowait loop moves the same items as T1/T4: the worker's
      // postMessage loop and the C programs are the same in both.
      const same = id === "worker" || id === "limit"
        ? ({ N1: "T1", N4: "T4" } as Record<string, string>)[sc] ?? sc
        : sc;
      const v = id === "limit"
        ? Math.max(
          value(by("c", same)) ?? 0,
          value(by("cbatch", same)) ?? 0,
        ) || undefined
        : value(by(id, same));
      if (v === undefined) continue;
      const text = latency
        ? `${(1e6 / v).toFixed(1)} µs`
        : BYTE_SCENARIOS.has(sc)
        ? `${v.toFixed(0)} MB/s`
        : `${fmtRate(v)}/s`;
      bars.push({ system: LABELS[id], value: v, text });
    }
    groups.push({ title: titles[sc], bars, reference });
  }
  return groups;
}

async function main() {
  const argv = Deno.args;
  if (argv[0] === "--cell") {
    await runCell(
      argv[1],
      argv[2].split(","),
      Number(argv[3]),
      argv[4] === "1",
      Number(argv[5] ?? Infinity),
    );
    return;
  }
  const quick = argv.includes("--quick");
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const reps = Number(opt("--reps") ?? (quick ? 1 : 3));
  const only = opt("--only");
  const timeoutS = Number(opt("--timeout") ?? (quick ? 60 : 300));
  // A scenario gets another repetition only while its repetitions so far took less.
  const budgetS = Number(opt("--budget") ?? 2);
  const t0 = performance.now();

  const hasPython = (await sh("python3", ["--version"])) !== "";
  // The limit: a C program, one write() per frame, on a pipe of our size.
  await Deno.mkdir(new URL("./results/", HERE), { recursive: true });
  const hasC = await succeeds("cc", ["-O2", "-o", C_BINARY, C_SOURCE]) &&
    await exists(C_BINARY);
  const order = [
    "queue",
    "simple",
    "batch",
    "py-queue",
    "py-simple",
    "cmd",
    "worker",
    "c",
    "cbatch",
  ];
  const cells: Cell[] = [];
  for (const sys of order) {
    if (sys === "c" || sys === "cbatch") {
      if (quick) continue; // --quick stays under 30 s; the limit is a reference
      for (const sc of ["T1", "T2", "T3", "T4"]) {
        cells.push({ sys, scs: [sc], pinned: false, reps });
      }
      if (sys === "c") {
        cells.push({ sys, scs: ["L1"], pinned: false, reps });
        cells.push({ sys, scs: ["L1"], pinned: true, reps });
      }
      continue;
    }
    const scs = sys === "batch"
      ? ["T1", "T2", "T3", "T4"]
      : ["T1", "T2", "T3", "T4", "L1"];
    // The putNowait() loop: Queue only (SimpleQueue has no putNowait).
    if (sys === "queue" || sys === "py-queue") scs.push("N1", "N4");
    cells.push({ sys, scs, pinned: false, reps });
    if (sys !== "batch") cells.push({ sys, scs: ["L1"], pinned: true, reps });
  }
  cells.push({ sys: "queue", scs: ["MEM"], pinned: false, reps: 1 });
  for (const sys of ["queue", "simple", "py-queue", "py-simple"]) {
    cells.push({ sys, scs: ["C"], pinned: false, reps });
  }

  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const cpu =
    (await Deno.readTextFile("/proc/cpuinfo")).match(/^model name\s*:\s*(.*)$/m)
      ?.[1] ?? "?";
  const machine = {
    date,
    nproc: await sh("nproc", []),
    cpu,
    kernel: Deno.osRelease(),
    loadavg_at_start: Deno.loadavg().map((x) => x.toFixed(2)).join(" "),
    deno: Deno.version.deno,
    commit: (await sh("git", [
      "-C",
      new URL("..", HERE).pathname,
      "describe",
      "--always",
      "--dirty",
    ]))
      .split("\n")[0] || "unknown (not a git checkout)",
    python: hasPython
      ? await sh("python3", ["--version"])
      : "not found (Python rows skipped)",
    command: `deno run -A bench/ipc.ts ${argv.join(" ")}`.trim(),
    mode: quick
      ? `quick (1/${QUICK_DIV} item counts, ${reps} rep)`
      : `full (up to ${reps} reps per cell within a ${budgetS} s budget, median)`,
  };
  const machineLine =
    `Machine: ${machine.date}; nproc ${machine.nproc}; CPU ${machine.cpu}; kernel ${machine.kernel}; load avg at start ${machine.loadavg_at_start}; deno ${machine.deno}; commit ${machine.commit}; ${machine.python}; \`${machine.command}\`; ${machine.mode}`;
  console.error(machineLine);

  const recs: Rec[] = [];
  const errors: string[] = [];
  for (const cell of cells) {
    if (only && !cell.sys.includes(only)) continue;
    const r = await runCellProcess(
      cell,
      quick,
      timeoutS,
      budgetS,
      hasPython,
      hasC,
    );
    recs.push(...r.recs);
    errors.push(...r.errors);
  }
  const wall = (performance.now() - t0) / 1e3;

  const tables = renderTables(recs, order, reps);
  console.log(machineLine + "\n");
  console.log(
    "Throughput: median of the repetitions' times; in parentheses the ratio to Python mp.Queue in this run. MB = 10^6 payload bytes. L1: median over repetitions of each repetition's median / p99 round trip.\n",
  );
  console.log(tables);
  if (errors.length) {
    console.log("\nProblems:\n" + errors.map((e) => "- " + e).join("\n"));
  }
  console.log(`\nWall time: ${wall.toFixed(1)} s`);

  const dir = new URL("./results/", HERE);
  await Deno.mkdir(dir, { recursive: true });
  const file = new URL(
    `${date.replace(/[:]/g, "")}${quick ? "-quick" : ""}.json`,
    dir,
  );
  await Deno.writeTextFile(
    file,
    JSON.stringify(
      { machine, wall_s: wall, errors, records: recs, table: tables },
      null,
      1,
    ),
  );
  const chart = renderChart(
    chartGroups(recs),
    CHART_SYSTEMS.map((id) => LABELS[id]),
    "@mp/queues bench:ipc",
    `${machine.date}, commit ${machine.commit}, ${machine.nproc} CPUs (${machine.cpu}), ${machine.mode}`,
  );
  const svg = new URL(file.pathname.replace(/\.json$/, ".svg"), "file:");
  await Deno.writeTextFile(svg, chart);
  await Deno.writeTextFile(new URL("latest.svg", dir), chart);
  console.log(`Results: ${file.pathname.replace(Deno.cwd() + "/", "")}`);
  console.log(`Chart: ${svg.pathname.replace(Deno.cwd() + "/", "")}`);
}

await main();
