// Worker: gets `{ p, i }` items until `null`, then puts on `results` the list
// of what it got, in order, as [p, i] pairs flattened.
import { type SimpleQueue, workerArgs } from "../../mod.ts";

const [queue, results] = workerArgs<
  [SimpleQueue<{ p: number; i: number } | null>, SimpleQueue<number[]>]
>();
const got: number[] = [];
for (;;) {
  const item = await queue.get();
  if (item === null) break;
  got.push(item.p, item.i);
}
await results.put(got);
queue.close();
results.close();
