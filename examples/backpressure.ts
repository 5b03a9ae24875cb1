// Producer/consumer with backpressure and a graceful shutdown.
//
// The parent produces N items into a queue bounded by `maxsize`; two slower
// consumer processes drain it. When the queue is full, `put` waits for a free
// slot, so the producer can never run ahead of the consumers by more than
// `maxsize` items. After N items the producer sends one stop value per
// consumer; each consumer reports what it took and exits. `await using`
// closes and flushes the queues and stops the workers on every way out of the
// scope, errors included.
//
//   deno task example:backpressure
//   (deno run --allow-ffi --allow-run examples/backpressure.ts)
import { Full, Queue, spawn } from "../mod.ts";

/** What a consumer took, sent back when it stops. */
export interface Report {
  consumer: string;
  count: number;
  sum: number;
}

const N = 30;
const MAXSIZE = 4;
const CONSUMERS = 2;

await using items = new Queue<number | null>({ maxsize: MAXSIZE });
await using reports = new Queue<Report>();
await using stack = new AsyncDisposableStack(); // stops the consumers
const consumers = Array.from(
  { length: CONSUMERS },
  (_, i) =>
    stack.use(
      spawn(new URL("./backpressure_consumer.ts", import.meta.url), {
        args: [`c${i + 1}`, items, reports],
      }),
    ),
);

let waits = 0;
let peak = 0;
for (let i = 1; i <= N; i++) {
  try {
    items.putNowait(i);
  } catch (e) {
    if (!(e instanceof Full)) throw e;
    waits++; // full: wait for a consumer to free a slot (up to 10 s)
    await items.put(i, { timeout: 10_000 });
  }
  peak = Math.max(peak, items.qsize());
}
console.log(`producer: put ${N} items through a queue of maxsize ${MAXSIZE}`);
console.log(`producer: qsize never above maxsize: ${peak <= MAXSIZE}`);
console.log(`producer: waited for a free slot ${waits} times`);

// Graceful shutdown: one stop value per consumer, after the last item.
for (let i = 0; i < CONSUMERS; i++) await items.put(null);

let count = 0;
let sum = 0;
for (let i = 0; i < CONSUMERS; i++) {
  const r = await reports.get({ timeout: 30_000 });
  console.log(`consumer ${r.consumer}: took ${r.count} items`);
  count += r.count;
  sum += r.sum;
}
console.log(`consumers: took ${count} items in all, sum ${sum}`);
for (const c of consumers) {
  const { code } = await c.status;
  if (code !== 0) throw new Error(`consumer ${c.pid} exited with code ${code}`);
}
console.log("all consumers exited with code 0");
