// Worker: puts `n` numbers in a synchronous loop (the first is written at
// once, the rest stay in the feeder's buffer), then SIGKILLs itself before
// the feeder can run: n - 1 items die unwritten.
import { type JoinableQueue, workerArgs } from "../../mod.ts";

const [q, n] = workerArgs<[JoinableQueue<number>, number]>();
for (let i = 0; i < n; i++) q.putNowait(i);
Deno.kill(Deno.pid, "SIGKILL");
