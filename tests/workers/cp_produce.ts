// Worker: puts `count` items [tag, i] on a CPython-compatible queue.
import { type Queue, workerArgs } from "../../mod.ts";

const [q, tag, count] = workerArgs<[Queue<unknown>, string, number]>();
for (let i = 0; i < count; i++) await q.put([tag, i]);
await q[Symbol.asyncDispose]();
