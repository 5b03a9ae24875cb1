// A 3-stage pipeline across 4 worker processes, with JoinableQueue:
//
//   reader ──lines──▶ 2 transformers ──counted──▶ writer
//
// The reader worker emits the lines of a text, each transformer uppercases a
// line and counts its words, the writer prints the lines back in order and a
// summary. The parent waits for each stage to finish with `join()`, then
// stops the workers with one stop value (`null`) each.
//
//   deno task example:pipeline
//   (deno run --allow-ffi --allow-run examples/pipeline.ts)
import { JoinableQueue, spawn } from "../mod.ts";
import type { Counted, Line } from "./pipeline_stages.ts";

const TRANSFORMERS = 2;
const stage = (name: string) =>
  new URL(`./pipeline_${name}.ts`, import.meta.url);

await using lines = new JoinableQueue<Line | null>({ maxsize: 16 });
await using counted = new JoinableQueue<Counted | null>();

await using reader = spawn(stage("reader"), { args: [lines] });
await using stack = new AsyncDisposableStack(); // disposes the transformers
const transformers = Array.from(
  { length: TRANSFORMERS },
  (_, i) =>
    stack.use(
      spawn(stage("transformer"), { args: [`t${i + 1}`, lines, counted] }),
    ),
);
await using writer = spawn(stage("writer"), { args: [counted] });

// Stage 1: the reader exits once it has put every line. Its puts were counted
// as unfinished tasks when it made them, so after this `lines.join()` cannot
// return early.
const readerStatus = await reader.status;
console.log(`reader: exited with code ${readerStatus.code}`);

// Stage 2: every line was transformed (a transformer puts its result before
// it calls `lines.taskDone()`, so `counted` already counts it).
await lines.join();
console.log("transformers: every line done");

// Stage 3: the writer has taken every result.
await counted.join();
console.log("writer: every result taken");

// Shut down: one stop value per worker that reads a queue.
for (let i = 0; i < TRANSFORMERS; i++) await lines.put(null);
await counted.put(null);

const codes = [];
for (const t of transformers) codes.push((await t.status).code);
codes.push((await writer.status).code);
console.log(`transformers and writer exited with codes ${codes.join(", ")}`);
