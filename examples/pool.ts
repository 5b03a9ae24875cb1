// A worker pool whose results come back in input order: each job carries its
// index, the workers answer in whatever order they finish, and the parent puts
// every result back in its slot.
//
//   deno task example:pool
//   (deno run --allow-ffi --allow-run examples/pool.ts)
import { Queue, spawn } from "../mod.ts";

/** A job: the input and its position in the input list. */
export interface Job {
  index: number;
  n: number;
}

/** A result: the position of its job, the answer and the worker's name. */
export interface Result {
  index: number;
  steps: number;
  worker: string;
}

/**
 * Runs `inputs` through `size` worker processes and returns the results in
 * the order of `inputs`, whatever order the workers finish in.
 */
async function poolMap(inputs: number[], size: number): Promise<Result[]> {
  await using jobs = new Queue<Job | null>();
  await using results = new Queue<Result>();
  await using stack = new AsyncDisposableStack(); // kills leftover workers
  const workers = Array.from(
    { length: size },
    (_, i) =>
      stack.use(
        spawn(new URL("./pool_worker.ts", import.meta.url), {
          args: [`w${i + 1}`, jobs, results],
        }),
      ),
  );

  await jobs.putMany(inputs.map((n, index) => ({ index, n })));
  for (let i = 0; i < size; i++) await jobs.put(null); // one stop value each

  const ordered = new Array<Result>(inputs.length);
  const arrival: number[] = [];
  for (let got = 0; got < inputs.length; got++) {
    const r = await results.get({ timeout: 30_000 });
    ordered[r.index] = r;
    arrival.push(r.index);
  }
  console.log(`arrival order: ${arrival.join(" ")}`);

  for (const w of workers) {
    const { code } = await w.status;
    if (code !== 0) throw new Error(`worker ${w.pid} exited with code ${code}`);
  }
  return ordered;
}

// Collatz stopping times; the biggest inputs come first, so early jobs tend to
// finish last.
const inputs = [837799, 77031, 6171, 871, 97, 27, 9, 7, 6, 3, 2, 1];
const results = await poolMap(inputs, 3);
for (const [i, r] of results.entries()) {
  console.log(`collatz(${inputs[i]}) = ${r.steps} steps (${r.worker})`);
}
console.log(`${results.length} results, in input order`);
