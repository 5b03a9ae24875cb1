// A worker of examples/redis_pool.ts: the worker of examples/pool.ts, with
// queues it finds by URL and name instead of receiving them.
//
//   deno run --allow-net --allow-env=REDIS_DEBUG_MAINTENANCE \
//     examples/redis_pool_worker.ts <name> <url> <jobs> <results>
import { RedisQueue } from "../redis/mod.ts";
import type { Job, Result } from "./pool.ts";

function collatzSteps(n: number): number {
  let steps = 0;
  for (; n !== 1; steps++) n = n % 2 === 0 ? n / 2 : 3 * n + 1;
  return steps;
}

const [name, url, jobsName, resultsName] = Deno.args;
await using jobs = await RedisQueue.connect<Job | null>(url, jobsName);
await using results = await RedisQueue.connect<Result>(url, resultsName);
for (let job; (job = await jobs.get()) !== null;) {
  const steps = collatzSteps(job.n);
  await new Promise((resolve) => setTimeout(resolve, steps / 4));
  await results.put({ index: job.index, steps, worker: name });
}
