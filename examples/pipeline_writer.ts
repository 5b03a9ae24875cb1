// Stage 3 of examples/pipeline.ts: collects the transformed lines until it
// gets the stop value `null`, then prints them in their original order and a
// summary.
import { type JoinableQueue, workerArgs } from "../mod.ts";
import type { Counted } from "./pipeline_stages.ts";

const [counted] = workerArgs<[JoinableQueue<Counted | null>]>();
const got: Counted[] = [];
for (;;) {
  const item = await counted.get();
  counted.taskDone();
  if (item === null) break;
  got.push(item);
}
counted.close();

got.sort((a, b) => a.index - b.index);
for (const c of got) {
  console.log(
    `${String(c.index + 1).padStart(2)} (${c.words} words) ${c.upper}`,
  );
}
const words = got.reduce((sum, c) => sum + c.words, 0);
console.log(`summary: ${got.length} lines, ${words} words`);
const by = Map.groupBy(got, (c) => c.by);
console.log(
  `split: ${
    [...by.keys()].sort().map((k) => `${k} did ${by.get(k)!.length}`).join(", ")
  }`,
);
