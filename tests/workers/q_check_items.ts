// Worker: puts "ready" on `results`, then gets `{ i, data }` items from `q`
// until null, checking that i counts up from 0 and that data is filled with
// i & 0xff; puts `{ count, bytes, bad }` on `results`.
import { type Queue, workerArgs } from "../../mod.ts";

type Item = { i: number; data: Uint8Array } | null;
const [q, results] = workerArgs<[Queue<Item>, Queue<unknown>]>();
await results.put("ready");
let count = 0, bytes = 0, bad = 0;
for (;;) {
  const item = await q.get();
  if (item === null) break;
  const fill = item.i & 0xff;
  if (item.i !== count || item.data.some((b) => b !== fill)) bad++;
  count++;
  bytes += item.data.length;
}
await results.put({ count, bytes, bad });
q.close();
results.close();
await results.joinThread();
