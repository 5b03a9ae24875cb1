// Worker: puts `count` soak items of producer `id` (sizes from soakSize),
// one put at a time, or with putMany in batches of 8 when `batched`.
import { type Queue, workerArgs } from "../../mod.ts";
import { makeItem, soakSize } from "./rel_items.ts";

const [queue, id, count, batched] = workerArgs<
  [Queue<Uint8Array>, number, number, boolean]
>();
const item = (seq: number) => makeItem(id, seq, soakSize(id, seq));
for (let seq = 0; seq < count;) {
  if (batched) {
    const batch: Uint8Array[] = [];
    for (let k = 0; k < 8 && seq < count; k++) batch.push(item(seq++));
    await queue.putMany(batch);
  } else {
    await queue.put(item(seq++));
  }
}
queue.close();
