// Worker: puts `count` items of `size` bytes made by rel_items.ts (producer
// `id`), then closes the queue (a Queue flushes before the process exits).
import { type Queue, type SimpleQueue, workerArgs } from "../../mod.ts";
import { makeItem } from "./rel_items.ts";

const [queue, id, count, size] = workerArgs<
  [Queue<Uint8Array> | SimpleQueue<Uint8Array>, number, number, number]
>();
for (let seq = 0; seq < count; seq++) await queue.put(makeItem(id, seq, size));
queue.close();
