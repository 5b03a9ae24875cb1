// Stage 2 of examples/pipeline.ts: uppercases lines and counts their words
// until it gets the stop value `null`.
import { type JoinableQueue, workerArgs } from "../mod.ts";
import type { Counted, Line } from "./pipeline_stages.ts";

const [name, lines, counted] = workerArgs<
  [string, JoinableQueue<Line | null>, JoinableQueue<Counted | null>]
>();
for (;;) {
  const line = await lines.get();
  if (line === null) {
    lines.taskDone(); // the stop value is a task too
    break;
  }
  await counted.put({
    index: line.index,
    upper: line.text.toUpperCase(),
    words: line.text.split(/\s+/).filter((w) => w !== "").length,
    by: name,
  });
  lines.taskDone(); // after the put: the next stage already counts the result
}
lines.close();
counted.close();
