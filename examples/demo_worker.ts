// A worker of examples/demo.ts: squares numbers until it gets `null`.
import { type Queue, workerArgs } from "../mod.ts";

const [name, jobs, results] = workerArgs<
  [
    string,
    Queue<number | null>,
    Queue<{ worker: string; n: number; square: number }>,
  ]
>();
for (;;) {
  const n = await jobs.get();
  if (n === null) break;
  await results.put({ worker: name, n, square: n * n });
}
jobs.close();
results.close(); // buffered results are still flushed before the process exits
