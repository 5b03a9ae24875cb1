// Worker: gets items from `jobs` until null; for each, optionally sleeps
// `sleepMs`, puts { item, square, pid } on `results`, then calls taskDone().
// The null stop value is not taskDone()'d (as in CPython's test_task_done).
import { type JoinableQueue, type Queue, workerArgs } from "../../mod.ts";

const [jobs, results, sleepMs] = workerArgs<
  [JoinableQueue<number | null>, Queue<unknown>, number]
>();
for (;;) {
  const item = await jobs.get();
  if (item === null) break;
  if (sleepMs > 0) await new Promise((r) => setTimeout(r, sleepMs));
  await results.put({ item, square: item * item, pid: Deno.pid });
  jobs.taskDone();
}
jobs.close();
results.close();
