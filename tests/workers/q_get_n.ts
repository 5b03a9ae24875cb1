// Worker: waits for a signal on `start`, gets `n` items from `q`, then puts
// the array of them on `done`.
import { type Queue, workerArgs } from "../../mod.ts";

const [q, start, done, n] = workerArgs<
  [Queue<unknown>, Queue<unknown>, Queue<unknown[]>, number]
>();
await start.get();
const got: unknown[] = [];
for (let i = 0; i < n; i++) got.push(await q.get());
await done.put(got);
q.close();
start.close();
done.close();
