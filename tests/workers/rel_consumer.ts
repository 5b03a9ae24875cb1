// Worker: gets items forever, checks each (rel_items.ts) and reports
// `[id, seq]` (or what is wrong with it) on `report` once it has it. It is
// meant to be killed, at any moment.
import { type Queue, type SimpleQueue, workerArgs } from "../../mod.ts";
import { checkItem } from "./rel_items.ts";

const [queue, report] = workerArgs<
  [Queue<Uint8Array> | SimpleQueue<Uint8Array>, SimpleQueue<unknown>]
>();
for (;;) await report.put(checkItem(await queue.get()));
