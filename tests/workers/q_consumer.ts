// Worker: gets items from `q` until null, then puts the array of everything
// it got (in the order it got them) on `results`.
import { type Queue, workerArgs } from "../../mod.ts";

const [q, results] = workerArgs<[Queue<unknown>, Queue<unknown[]>]>();
const got: unknown[] = [];
for (;;) {
  const item = await q.get();
  if (item === null) break;
  got.push(item);
}
await results.put(got);
q.close();
results.close();
