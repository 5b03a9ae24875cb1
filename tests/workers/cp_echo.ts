// Worker started by python/mpq.py's spawn_deno(): echoes `jobs` to
// `results` (marking each job done) until "stop", then answers on the
// SimpleQueue it finds in its args.
import {
  type JoinableQueue,
  type Queue,
  type SimpleQueue,
  workerArgs,
} from "../../mod.ts";

const [jobs, results, { simple }] = workerArgs<
  [JoinableQueue<unknown>, Queue<unknown>, { simple: SimpleQueue<string> }]
>();
for (;;) {
  const item = await jobs.get();
  jobs.taskDone();
  if (item === "stop") break;
  await results.put(item);
}
await simple.put("simple ok");
await results[Symbol.asyncDispose]();
jobs.close();
simple.close();
