// Pool: pool.map of 100,000 tiny tasks and of 200 CPU-bound tasks (~10 ms
// each), against Python's multiprocessing.Pool.map and
// concurrent.futures.ProcessPoolExecutor.map (default settings), with the
// same worker count, in one run. Timed: the map call, after the workers are
// up.
//
//   deno run -A bench/pool.ts [--reps=3] [--processes=2] [--python=python3]

import { Pool } from "../mod.ts";
import { gitCommit, median, writeResult } from "./_common.ts";
import type * as Tasks from "./workers/pool_bench_tasks.ts";

const args = new Map(
  Deno.args.map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? "true"];
  }),
);
const reps = Number(args.get("reps") ?? 5);
const processes = Number(
  args.get("processes") ?? navigator.hardwareConcurrency,
);
const python = args.get("python") ?? "python3";
const TINY_N = 100_000;
const BUSY_N = 200;
const BUSY_MS = 10;

const runs: Record<string, Record<string, number[]>> = {};
function record(system: string, cell: string, seconds: number): void {
  ((runs[system] ??= {})[cell] ??= []).push(seconds);
}

const commit = await gitCommit();
const version = new TextDecoder().decode(
  (await new Deno.Command(python, { args: ["--version"], stdout: "piped" })
    .output()).stdout,
).trim();
console.log(
  `bench/pool.ts: ${processes} processes, ${reps} reps, Deno ${Deno.version.deno}, ${version}, commit ${commit}`,
);

// Each system: a pool of `processes` workers, up and warm (one map of the
// same size first), then `reps` timed maps of each cell; the first map of a
// fresh pool is reported apart ("cold"), as a pool does it once.
{
  await using pool = new Pool<typeof Tasks>(
    new URL("./workers/pool_bench_tasks.ts", import.meta.url),
    { processes },
  );
  await pool.map("square", Array.from({ length: processes * 4 }, (_, i) => i));
  const items = Array.from({ length: TINY_N }, (_, i) => i);
  let t = performance.now();
  await pool.map("square", items);
  record("Pool.map (Deno)", "cold", (performance.now() - t) / 1000);
  await pool.map("busy", Array(processes * 2).fill(1));
  for (let r = 0; r < reps; r++) {
    t = performance.now();
    const out = await pool.map("square", items);
    record("Pool.map (Deno)", "tiny", (performance.now() - t) / 1000);
    if (out[TINY_N - 1] !== (TINY_N - 1) ** 2) throw new Error("wrong result");
    t = performance.now();
    await pool.map("busy", Array(BUSY_N).fill(BUSY_MS));
    record("Pool.map (Deno)", "busy", (performance.now() - t) / 1000);
  }
}
{
  const out = await new Deno.Command(python, {
    args: [
      new URL("./py_pool.py", import.meta.url).pathname,
      String(processes),
      String(TINY_N),
      String(BUSY_N),
      String(BUSY_MS),
      String(reps),
    ],
    stdout: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`py_pool.py exited with ${out.code}`);
  for (const line of new TextDecoder().decode(out.stdout).trim().split("\n")) {
    const { system, cell, seconds } = JSON.parse(line);
    record(system, cell, seconds);
  }
}

const ideal = BUSY_N * BUSY_MS / processes / 1000;
const deno = runs["Pool.map (Deno)"];
console.log(
  `\n| system | ${TINY_N} tiny tasks | tasks/s | first map of a fresh pool | ${BUSY_N} × ${BUSY_MS} ms CPU-bound | vs ideal ${
    ideal.toFixed(2)
  } s |`,
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [system, cells] of Object.entries(runs)) {
  const tiny = median(cells.tiny);
  const busy = median(cells.busy);
  console.log(
    `| ${system} | ${tiny.toFixed(3)} s | ${
      Math.round(TINY_N / tiny).toLocaleString("en")
    } | ${median(cells.cold).toFixed(3)} s | ${busy.toFixed(3)} s | +${
      ((busy / ideal - 1) * 100).toFixed(1)
    }% |`,
  );
}
for (const [system, cells] of Object.entries(runs)) {
  if (cells === deno) continue;
  console.log(
    `Deno vs ${system}: tiny ${
      (median(cells.tiny) / median(deno.tiny)).toFixed(2)
    }× faster; CPU-bound wall time ${
      ((median(deno.busy) / median(cells.busy) - 1) * 100).toFixed(1)
    }% ${median(deno.busy) > median(cells.busy) ? "longer" : "shorter"}`,
  );
}
await writeResult("pool", { commit, processes, reps, python: version, runs });
