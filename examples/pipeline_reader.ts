// Stage 1 of examples/pipeline.ts: puts the lines of a text, then exits.
// The process stays alive until its buffered lines are written to the pipe.
import { type JoinableQueue, workerArgs } from "../mod.ts";
import type { Line } from "./pipeline_stages.ts";

const TEXT = `Queues carry values between processes
one frame at a time
a pipe for the bytes
futex words for the locks and the counts
and a feeder task that writes
what put has buffered
JoinableQueue also counts the tasks
so join knows when every item is done`;

const [lines] = workerArgs<[JoinableQueue<Line | null>]>();
const all = TEXT.split("\n");
for (const [index, text] of all.entries()) {
  await lines.put({ index, text }); // waits while the bounded queue is full
}
lines.close(); // buffered lines are still written before the process exits
