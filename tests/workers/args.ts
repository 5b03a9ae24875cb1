// Worker: sends back its args (queues replaced by their kind) and uses them.
import { JoinableQueue, Queue, SimpleQueue, workerArgs } from "../../mod.ts";

const args = workerArgs<
  [
    Queue<unknown>,
    { nested: [SimpleQueue<unknown>, JoinableQueue<unknown>] },
    unknown,
  ]
>();
strictSame(workerArgs(), args);
const [q, { nested: [sq, jq] }, plain] = args;
await q.put({
  kinds: [q, sq, jq].map((x) =>
    x instanceof JoinableQueue
      ? "JoinableQueue"
      : x instanceof Queue
      ? "Queue"
      : x instanceof SimpleQueue
      ? "SimpleQueue"
      : "?"
  ),
  plain,
  maxsize: q.maxsize,
});
await q.put(await sq.get());
function strictSame(a: unknown, b: unknown) {
  if (a !== b) {
    throw new Error("workerArgs() returned a different value the second time");
  }
}
