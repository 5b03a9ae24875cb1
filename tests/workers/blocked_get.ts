// Worker: announces itself on `ready`, then waits in get() on `queue`; if it
// ever gets an item it reports it on `ready`.
import { type SimpleQueue, workerArgs } from "../../mod.ts";

const [queue, ready] = workerArgs<
  [SimpleQueue<unknown>, SimpleQueue<unknown>]
>();
await ready.put(`waiting ${Deno.pid}`);
const item = await queue.get();
await ready.put({ got: item });
