// Worker: gets `n` items from `q` without taskDone(), reports "got", then
// SIGKILLs itself.
import { type JoinableQueue, type Queue, workerArgs } from "../../mod.ts";

const [q, report, n] = workerArgs<
  [JoinableQueue<number>, Queue<string>, number]
>();
for (let i = 0; i < n; i++) await q.get();
await report.put("got");
await report.joinThread();
Deno.kill(Deno.pid, "SIGKILL");
