// Worker: takes soak items until SOAK_STOP (with get(), or getMany() when
// `many`), checks every one (size and content) and the order of each
// producer's items, then puts what it got on `results`.
import { type Queue, type SimpleQueue, workerArgs } from "../../mod.ts";
import { checkItem, SOAK_STOP, soakSize } from "./rel_items.ts";

export interface SoakResult {
  /** Per producer: the seqs got, in the order got. */
  seqs: Uint32Array[];
  /** Items of 0 bytes (they carry no tag). */
  zeros: number;
  bytes: number;
  /** What was wrong (at most 10), and how many were wrong. */
  errors: string[];
  bad: number;
}

const [queue, results, producers, many] = workerArgs<
  [Queue<Uint8Array>, SimpleQueue<SoakResult>, number, boolean]
>();
const seqs: number[][] = Array.from({ length: producers }, () => []);
const last = new Array<number>(producers).fill(-1);
const result: SoakResult = { seqs: [], zeros: 0, bytes: 0, errors: [], bad: 0 };
const fail = (what: string) => {
  result.bad++;
  if (result.errors.length < 10) result.errors.push(what);
};
const isStop = (item: Uint8Array) =>
  item.length === SOAK_STOP.length && item.every((b, i) => b === SOAK_STOP[i]);

let running = true;
while (running) {
  const items = many
    ? await queue.getMany({ maxItems: 16 })
    : [await queue.get()];
  for (const item of items) {
    if (isStop(item)) {
      // Every item precedes the stops; a stop meant for another consumer
      // goes back.
      if (!running) await queue.put(SOAK_STOP);
      running = false;
      continue;
    }
    if (!running) fail("an item after the stop sentinel");
    result.bytes += item.length;
    if (item.length === 0) {
      result.zeros++;
      continue;
    }
    const r = checkItem(item, soakSize);
    if (typeof r === "string") {
      fail(r);
      continue;
    }
    const [id, seq] = r;
    if (id >= producers) {
      fail(`item from unknown producer ${id}`);
      continue;
    }
    if (seq <= last[id]) fail(`producer ${id}: seq ${seq} after ${last[id]}`);
    last[id] = seq;
    seqs[id].push(seq);
  }
}
await queue.joinThread();
result.seqs = seqs.map((s) => Uint32Array.from(s));
await results.put(result);
queue.close();
results.close();
