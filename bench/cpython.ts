// CPython-compatible queues: Deno <-> Python on a `{ cpython: true }` Queue,
// against Python <-> Python on CPython's own `multiprocessing.Queue` (spawn
// context), in one run. Cells: small items and 1 MiB items each way
// (throughput), and a small round trip (latency).
//
//   deno run -A bench/cpython.ts [--quick] [--python=python3] [--reps=3]
//
// Writes bench/results/cpython-<date>.json and prints a table with the
// ratio Deno<->Python / Python<->Python (above 1: faster than Python).

import { Queue, spawnPython } from "../mod.ts";
import { gitCommit, median, writeResult } from "./_common.ts";

const args = new Map(
  Deno.args.map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? "true"];
  }),
);
const quick = args.has("quick");
const python = args.get("python") ?? "python3";
const reps = Number(args.get("reps") ?? 3);
const script = new URL("./py_cpython.py", import.meta.url);
const MPQ_DIR = new URL("../python/", import.meta.url).pathname;

type Role = "consume" | "produce" | "echo";
/** Cell: Python's role, item count, payload size (null: a small dict). */
const CELLS: Record<string, [Role, number, number | null, string]> = {
  S_DP: ["consume", 100_000, null, "small items, Deno -> Python"],
  S_PD: ["produce", 100_000, null, "small items, Python -> Deno"],
  B_DP: ["consume", 300, 1 << 20, "1 MiB items, Deno -> Python"],
  B_PD: ["produce", 300, 1 << 20, "1 MiB items, Python -> Deno"],
  L1: ["echo", 5_000, null, "round trip of a small item"],
};
const DIV = quick ? 10 : 1;

const BIG = new Uint8Array(1 << 20).fill(7);
function item(i: number, size: number | null): unknown {
  return size === null ? { i, s: "hello", f: 1.5 } : BIG;
}

/** One repetition with a Deno parent and a Python child: [n, seconds]. */
async function denoCell(cell: string): Promise<[number, number]> {
  const [role, n0, size] = CELLS[cell];
  let n = Math.max(200, Math.floor(n0 / DIV));
  if (size !== null) n = Math.max(30, Math.floor(n0 / DIV));
  await using q = new Queue<unknown>({ cpython: true });
  await using other = new Queue<unknown>({ cpython: true });
  await using child = spawnPython(script, {
    args: [role, q, other, n, size],
    python,
    env: { PYTHONPATH: MPQ_DIR },
  });
  let took: number;
  if (role === "consume") {
    if (await other.get() !== "ready") throw new Error("no ready");
    const t = performance.now();
    for (let i = 0; i < n; i++) await q.put(item(i, size));
    if (await other.get() !== "done") throw new Error("no done");
    took = performance.now() - t;
  } else if (role === "produce") {
    if (await q.get() !== "ready") throw new Error("no ready");
    const t = performance.now();
    await other.put("go");
    for (let i = 0; i < n; i++) await q.get();
    took = performance.now() - t;
  } else {
    if (await other.get() !== "ready") throw new Error("no ready");
    for (let i = 0; i < 100; i++) await q.put(item(i, size));
    for (let i = 0; i < 100; i++) await other.get();
    const t = performance.now();
    for (let i = 0; i < n - 100; i++) {
      await q.put(item(i, size));
      await other.get();
    }
    took = performance.now() - t;
    n -= 100;
  }
  const status = await child.status;
  if (status.code !== 0) throw new Error(`python child: ${status.code}`);
  return [n, took / 1000];
}

/** The Python-only baseline's repetitions of `cell`: [n, seconds][]. */
async function pythonCell(cell: string): Promise<[number, number][]> {
  // The same counts: the script takes them from its table, scaled here.
  const out = await new Deno.Command(python, {
    args: [script.pathname, cell, String(reps)],
    env: { PYTHONPATH: MPQ_DIR, MPQ_BENCH_DIV: String(DIV) },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error(`python baseline ${cell}: ${out.code}`);
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => {
    const r = JSON.parse(l);
    return [r.n, r.seconds];
  });
}

/** Items/s, MB/s or µs per round trip, by cell. */
function score(cell: string, n: number, seconds: number): number {
  const size = CELLS[cell][2];
  if (cell === "L1") return seconds / n * 1e6;
  if (size !== null) return n * size / seconds / 1e6;
  return n / seconds;
}
const UNIT: Record<string, string> = {
  S_DP: "items/s",
  S_PD: "items/s",
  B_DP: "MB/s",
  B_PD: "MB/s",
  L1: "µs",
};

const version = new TextDecoder().decode(
  (await new Deno.Command(python, { args: ["--version"], stdout: "piped" })
    .output()).stdout,
).trim();
const commit = await gitCommit();
console.log(
  `bench/cpython.ts: ${version}, Deno ${Deno.version.deno}, commit ${commit}, ${reps} reps${
    quick ? ", quick" : ""
  }`,
);

const rows: Record<string, unknown>[] = [];
for (const cell of Object.keys(CELLS)) {
  const deno: number[] = [];
  const py: number[] = [];
  // Alternate the two, so that machine noise falls on both.
  const pyRuns = await pythonCell(cell);
  for (let r = 0; r < reps; r++) {
    const [n, s] = await denoCell(cell);
    deno.push(score(cell, n, s));
  }
  for (const [n, s] of pyRuns) py.push(score(cell, n, s));
  const d = median(deno);
  const p = median(py);
  const ratio = cell === "L1" ? p / d : d / p;
  rows.push({
    cell,
    what: CELLS[cell][3],
    unit: UNIT[cell],
    deno_python: Math.round(d * 10) / 10,
    python_python: Math.round(p * 10) / 10,
    ratio: Math.round(ratio * 100) / 100,
    deno_runs: deno,
    python_runs: py,
  });
  console.log(
    `${cell.padEnd(5)} ${CELLS[cell][3].padEnd(30)} Deno<->Python ${
      d.toFixed(1).padStart(10)
    } ${UNIT[cell].padEnd(7)} Python<->Python ${
      p.toFixed(1).padStart(10)
    }  ratio ${ratio.toFixed(2)}×`,
  );
}

await writeResult("cpython", { python: version, commit, quick, reps, rows });
