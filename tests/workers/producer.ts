// Worker: puts `count` items `{ p: id, i }` (i = 0..count-1) on `queue`.
import { type SimpleQueue, workerArgs } from "../../mod.ts";

const [queue, id, count] = workerArgs<
  [SimpleQueue<{ p: number; i: number }>, number, number]
>();
for (let i = 0; i < count; i++) await queue.put({ p: id, i });
queue.close();
