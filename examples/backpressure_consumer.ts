// A consumer of examples/backpressure.ts: takes items slowly until the stop
// value `null`, then reports what it took.
import { type Queue, workerArgs } from "../mod.ts";
import type { Report } from "./backpressure.ts";

const [consumer, itemsArg, reportsArg] = workerArgs<
  [string, Queue<number | null>, Queue<Report>]
>();
// Disposed in reverse order: `reports` is closed and flushed first.
await using items = itemsArg;
await using reports = reportsArg;

let count = 0;
let sum = 0;
// `for await` gets items until this process closes the queue. It also ends
// (on ClosedError, within ~250 ms) if the parent that created the queue dies,
// so an orphaned consumer never waits forever.
for await (const item of items) {
  if (item === null) break; // the stop value
  await new Promise((resolve) => setTimeout(resolve, 5)); // slow work
  count++;
  sum += item;
}
await reports.put({ consumer, count, sum });
