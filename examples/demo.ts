// The README's demo: a parent spawns two worker processes, sends them work
// through one queue and collects their results from another. Each job takes
// 50 ms, so the two workers share the eight jobs.
//
//   deno run --allow-ffi --allow-run examples/demo.ts
import { Queue, spawn } from "../mod.ts";

await using ready = new Queue<string>();
await using jobs = new Queue<number | null>();
await using results = new Queue<
  { worker: string; n: number; square: number }
>();

const workers = ["alpha", "beta"].map((name) =>
  spawn(new URL("./demo_worker.ts", import.meta.url), {
    args: [name, ready, jobs, results],
  })
);
console.log(
  `parent ${Deno.pid} spawned workers ${
    workers.map((w) => w.pid).join(" and ")
  }`,
);

for (const _ of workers) await ready.get(); // both workers have started

const numbers = [1, 2, 3, 4, 5, 6, 7, 8];
await jobs.putMany(numbers);
for (let i = 0; i < workers.length; i++) await jobs.put(null); // one stop value each

const got = [];
for (let i = 0; i < numbers.length; i++) got.push(await results.get());
got.sort((a, b) => a.n - b.n);
for (const r of got) {
  console.log(`${r.n}² = ${r.square} (computed by ${r.worker})`);
}
for (const name of ["alpha", "beta"]) {
  const count = got.filter((r) => r.worker === name).length;
  console.log(`${name} squared ${count} of ${numbers.length}`);
}

for (const w of workers) {
  const { code } = await w.status;
  console.log(`worker ${w.pid} exited with code ${code}`);
}
