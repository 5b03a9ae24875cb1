// A worker of examples/pool.ts: answers jobs until it gets `null`.
import { type Queue, workerArgs } from "../mod.ts";
import type { Job, Result } from "./pool.ts";

function collatzSteps(n: number): number {
  let steps = 0;
  for (; n !== 1; steps++) n = n % 2 === 0 ? n / 2 : 3 * n + 1;
  return steps;
}

const [name, jobs, results] = workerArgs<
  [string, Queue<Job | null>, Queue<Result>]
>();
for (let job; (job = await jobs.get()) !== null;) {
  // Pretend the work takes time in proportion to the answer.
  const steps = collatzSteps(job.n);
  await new Promise((resolve) => setTimeout(resolve, steps / 4));
  await results.put({ index: job.index, steps, worker: name });
}
jobs.close();
results.close(); // buffered results are still written before the exit
