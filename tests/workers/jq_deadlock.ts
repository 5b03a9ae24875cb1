// Worker: gets one item from `jq`, calls join() before taskDone() and reports
// the error's name and message on `results`; then taskDone()s, join()s again
// and reports "joined".
import { type JoinableQueue, type Queue, workerArgs } from "../../mod.ts";

const [jq, results] = workerArgs<[JoinableQueue<unknown>, Queue<unknown>]>();
const item = await jq.get();
try {
  await jq.join();
  await results.put({ name: "none", message: "join() resolved", item });
} catch (e) {
  const err = e as Error;
  await results.put({ name: err.name, message: err.message, item });
}
jq.taskDone();
await jq.join();
await results.put("joined");
jq.close();
results.close();
