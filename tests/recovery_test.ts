// Crash recovery, made deterministic: a reader's death is staged in the
// shared page (its pid is one that cannot exist) at a chosen step.

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { bytes, Queue } from "../mod.ts";
import { CARRY_START, RLOCK } from "../queues/native/_layout.ts";

/** Above pid_max: never a live process. */
const DEAD_PID = 2 ** 22 + 99;
const MARK = Symbol.for("@mp/queues.queue");

test("a reader that died after taking a frame from the shared read buffer: that frame is counted lost and the warning says 0 bytes skipped (issue 12, item 9)", async () => {
  await using q = new Queue<Uint8Array>({ serializer: bytes });
  const frames = [[1], [2, 2], [3, 3, 3]].map((b) => new Uint8Array(b));
  await q.putMany(frames);
  await q.joinThread();
  // This reader reads all three frames into the shared buffer, takes one.
  deepStrictEqual(await q.getMany({ maxItems: 1, timeout: 1000 }), [frames[0]]);
  // Another reader takes the second frame from the buffer and dies holding
  // the read lock, before it records the frame as delivered.
  // deno-lint-ignore no-explicit-any
  const { page } = (q as any)[MARK].channel;
  page.f64[CARRY_START] += 4 + frames[1].length;
  page.i32[RLOCK] = DEAD_PID;
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    deepStrictEqual(await q.get({ timeout: 1000 }), frames[2]);
  } finally {
    console.warn = warn;
  }
  deepStrictEqual(warnings, [
    `@mp/queues: a reader (pid ${DEAD_PID}) died while reading; the frame it was taking is dropped (0 bytes of it skipped)`,
  ]);
  deepStrictEqual(q.stats(), { tornFrames: 0, lostFrames: 1 });
  strictEqual(q.qsize(), 0);
  ok(q.empty());
});

function test(name: string, fn: () => Promise<void>): void {
  Deno.test(name, fn);
}
