// Pool: Python's multiprocessing.Pool for Deno. Three worker processes run
// the exported functions of a task module; the types follow the module.
//
//   deno task example:process-pool
//   (deno run --allow-ffi --allow-run examples/process_pool.ts)
import { Pool, WorkerExitError } from "../mod.ts";
import type * as Tasks from "./process_pool_tasks.ts";

await using pool = new Pool<typeof Tasks>(
  new URL("./process_pool_tasks.ts", import.meta.url),
  { processes: 3 },
);

const inputs = [837799, 77031, 6171, 871, 97, 27];
const steps = await pool.map("collatz", inputs); // in input order
for (const [i, n] of inputs.entries()) {
  console.log(`collatz(${n}) = ${steps[i]} steps`);
}

let done = 0;
for await (const _ of pool.imapUnordered("collatz", inputs)) done++;
console.log(`imapUnordered: ${done} results as they finished`);

try {
  await pool.apply("refuse", [7]);
} catch (e) {
  console.log(`a task threw: ${(e as Error).name}: ${(e as Error).message}`);
}

try {
  await pool.apply("crash", []);
} catch (e) {
  if (!(e instanceof WorkerExitError)) throw e;
  console.log(`a worker died: WorkerExitError, exit code ${e.code}`);
}
console.log(
  `the pool goes on: collatz(27) = ${await pool.apply("collatz", [27])}`,
);
