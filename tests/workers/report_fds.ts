// Worker: reports what its fds point to, then gets one item from `queue` and
// puts it on `results` (proving the inherited queue works).
import { type Queue, workerArgs } from "../../mod.ts";

const [queue, results] = workerArgs<[Queue<unknown>, Queue<unknown>]>();
const targets: string[] = [];
for (const e of Deno.readDirSync("/proc/self/fd")) {
  try {
    targets.push(Deno.readLinkSync(`/proc/self/fd/${e.name}`));
  } catch {
    // the directory handle itself
  }
}
await results.put(targets);
await results.put(await queue.get());
