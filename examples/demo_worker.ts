// A worker of examples/demo.ts: says it is ready, then squares numbers until
// it gets `null`, taking 50 ms over each (the time a real job takes).
import { type Queue, workerArgs } from "../mod.ts";

const [name, ready, jobs, results] = workerArgs<
  [
    string,
    Queue<string>,
    Queue<number | null>,
    Queue<{ worker: string; n: number; square: number }>,
  ]
>();
await ready.put(name);
for (;;) {
  const n = await jobs.get();
  if (n === null) break;
  await new Promise((resolve) => setTimeout(resolve, 50)); // the work
  await results.put({ worker: name, n, square: n * n });
}
jobs.close();
results.close(); // buffered results are still flushed before the process exits
