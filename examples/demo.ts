// The README's demo: a parent spawns two worker processes, sends them work
// through one queue and collects their results from another.
//
//   deno run --allow-ffi --allow-run examples/demo.ts
import { Queue, spawn } from "../mod.ts";

await using jobs = new Queue<number | null>();
await using results = new Queue<
  { worker: string; n: number; square: number }
>();

const workers = ["alpha", "beta"].map((name) =>
  spawn(new URL("./demo_worker.ts", import.meta.url), {
    args: [name, jobs, results],
  })
);
console.log(
  `parent ${Deno.pid} spawned workers ${
    workers.map((w) => w.pid).join(" and ")
  }`,
);

const numbers = [1, 2, 3, 4, 5, 6, 7, 8];
await jobs.putMany(numbers);
for (let i = 0; i < workers.length; i++) await jobs.put(null); // one stop value each

const got = [];
for (let i = 0; i < numbers.length; i++) got.push(await results.get());
got.sort((a, b) => a.n - b.n);
for (const r of got) {
  console.log(`${r.n}² = ${r.square} (computed by ${r.worker})`);
}

for (const w of workers) {
  const { code } = await w.status;
  console.log(`worker ${w.pid} exited with code ${code}`);
}
