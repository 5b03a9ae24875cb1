// A Deno worker for examples/python_parent.py: its workerArgs() are the
// Python parent's own multiprocessing queues.
import { type JoinableQueue, type Queue, workerArgs } from "../mod.ts";

const [jobs, results] = workerArgs<
  [JoinableQueue<string | null>, Queue<string>]
>();
for (;;) {
  const word = await jobs.get();
  jobs.taskDone();
  if (word === null) break;
  await results.put(word.toUpperCase());
}
await results[Symbol.asyncDispose]();
jobs.close();
