import { deepStrictEqual } from "node:assert/strict";
import { JoinableQueue, Queue, SimpleQueue } from "../mod.ts";
import { ok } from "node:assert/strict";
import { openFds, queueMappings, shmNames } from "./_sys.ts";

Deno.test("1,000 create/use/close cycles leave the fds, the shared-memory mappings and /dev/shm unchanged", async () => {
  const fds = openFds();
  const maps = queueMappings();
  const names = shmNames();
  let peak = 0;
  for (let i = 0; i < 1000; i++) {
    const q = i % 3 === 0
      ? new Queue<number>()
      : i % 3 === 1
      ? new JoinableQueue<number>()
      : new SimpleQueue<number>();
    if (i % 10 === 0) {
      await q.put(i);
      deepStrictEqual(await q.get(), i);
    }
    peak = Math.max(peak, queueMappings());
    q.close();
  }
  ok(
    peak > maps,
    "a live queue's shared memory is not seen in /proc/self/maps",
  );
  deepStrictEqual(openFds(), fds);
  deepStrictEqual(queueMappings(), maps);
  deepStrictEqual(shmNames(), names);
});
