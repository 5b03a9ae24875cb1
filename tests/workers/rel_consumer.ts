// Worker: takes items forever, checks each (rel_items.ts) and reports the
// `[id, seq]` of each (or what is wrong with it) on `report`, one list per
// take: get() when `batch` is 1, else getMany() of up to `batch` items. It is
// meant to be killed, at any moment.
import { Queue, type SimpleQueue, workerArgs } from "../../mod.ts";
import { checkItem } from "./rel_items.ts";

const [queue, report, batch] = workerArgs<
  [Queue<Uint8Array> | SimpleQueue<Uint8Array>, SimpleQueue<unknown>, number]
>();
for (;;) {
  const items = batch > 1 && queue instanceof Queue
    ? await queue.getMany({ maxItems: batch })
    : [await queue.get()];
  await report.put(items.map((item) => checkItem(item)));
}
