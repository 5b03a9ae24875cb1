// Worker: puts "ready" on `results`, then gets items from `q` and puts each on
// `results` until it gets null.
import { type Queue, workerArgs } from "../../mod.ts";

const [q, results] = workerArgs<[Queue<unknown>, Queue<unknown>]>();
await results.put("ready");
for (;;) {
  const item = await q.get();
  if (item === null) break;
  await results.put(item);
}
q.close();
results.close();
