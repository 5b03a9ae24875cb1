// Worker (a middle process): creates a queue, spawns blocked_get.ts with it,
// reports the grandchild's pid on `report`, then waits to be killed.
import { SimpleQueue, spawn, workerArgs } from "../../mod.ts";

const [report] = workerArgs<[SimpleQueue<unknown>]>();
const q = new SimpleQueue<unknown>();
const ready = new SimpleQueue<unknown>();
const child = spawn(new URL("./blocked_get.ts", import.meta.url), {
  args: [q, ready],
});
await ready.get();
await report.put(child.pid);
await new Promise(() => setInterval(() => {}, 1000));
