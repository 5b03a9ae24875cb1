// Worker: cancelJoinThread() first (Python's idiom at a worker's start), then
// puts 1 and 2 on `q` (buffered: they go to the feeder), then 3 alone,
// reports "put", and lives 300 ms more.
import { type JoinableQueue, type Queue, workerArgs } from "../../mod.ts";

const [q, report] = workerArgs<[JoinableQueue<number>, Queue<string>]>();
q.cancelJoinThread();
await q.putMany([1, 2]);
await new Promise((r) => setTimeout(r, 20));
await q.put(3);
await report.put("put");
await new Promise((r) => setTimeout(r, 300));
