import { deepStrictEqual } from "node:assert/strict";
import { JoinableQueue, Queue, SimpleQueue } from "../mod.ts";
import { openFds, shmNames } from "./_sys.ts";

Deno.test("1,000 create/use/close cycles leave the fd count and /dev/shm unchanged", async () => {
  const fds = openFds();
  const names = shmNames().filter((n) => n.startsWith(`sem.mpq.${Deno.pid}.`));
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
    q.close();
  }
  deepStrictEqual(openFds(), fds);
  deepStrictEqual(
    shmNames().filter((n) => n.startsWith(`sem.mpq.${Deno.pid}.`)),
    names,
  );
});
