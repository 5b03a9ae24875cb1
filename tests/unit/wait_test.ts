// Waiting (queues/wait/): one epoll_wait for every fd wait of the
// process, one futex_waitv for every word wait, and JS timers, abort
// listeners and close groups on each wait.

import { ok, strictEqual } from "node:assert/strict";
import { SharedMemory } from "../../ffi/shm.ts";
import {
  closeFd,
  createPipe,
  POLLIN,
  setNonBlocking,
  writeSome,
} from "../../ffi/fd.ts";
import { WaitGroup } from "../../queues/wait/_entry.ts";
import { fdReady, forgetFd } from "../../queues/wait/_fds.ts";
import { SharedWord } from "../../queues/wait/_words.ts";
import { DEAD_PID, timed } from "./_page.ts";

/** This process's thread count. */
function threads(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(status.match(/^Threads:\s+(\d+)/m)![1]);
}

/** `n` non-blocking pipes. */
function pipes(n: number): [number, number][] {
  return Array.from({ length: n }, () => {
    const p = createPipe();
    setNonBlocking(p[0]);
    setNonBlocking(p[1]);
    return p;
  });
}

function closeAll(ps: [number, number][]): void {
  for (const [r, w] of ps) {
    forgetFd(r);
    closeFd(r);
    closeFd(w);
  }
}

Deno.test("fdReady(): woken by data, false at its deadline, rejects with the signal's reason, woken by its group", async () => {
  const ps = pipes(2);
  const [r, w] = ps[0];
  const [idle] = ps[1];
  try {
    const t = await timed(
      fdReady(r, POLLIN, { deadline: performance.now() + 30 }),
    );
    strictEqual(t.value, false);
    ok(t.ms >= 29 && t.ms < 1000, `${t.ms} ms`);
    const data = fdReady(r, POLLIN, { deadline: Infinity });
    setTimeout(() => writeSome(w, new Uint8Array([1]), 0, 1), 10);
    strictEqual((await timed(data)).value, true);
    const controller = new AbortController();
    const aborted = fdReady(idle, POLLIN, {
      deadline: Infinity,
      signal: controller.signal,
    });
    controller.abort(new Error("stop"));
    strictEqual(((await timed(aborted)).error as Error).message, "stop");
    const group = new WaitGroup();
    const grouped = fdReady(idle, POLLIN, { deadline: Infinity, group });
    group.wakeAll();
    const g = await timed(grouped);
    strictEqual(g.value, true);
    ok(g.ms < 100, `${g.ms} ms`);
  } finally {
    closeAll(ps);
  }
});

Deno.test("2,000 fd waits on 200 pipes: one helper thread; a 100 ms deadline, an abort and a write to one pipe act at once", async () => {
  const before = threads();
  const ps = pipes(201);
  const group = new WaitGroup();
  const waits = ps.slice(0, 200).flatMap(([r]) =>
    Array.from(
      { length: 10 },
      () => fdReady(r, POLLIN, { deadline: Infinity, group }),
    )
  );
  try {
    await new Promise((r) => setTimeout(r, 100));
    ok(threads() <= before + 2, `${before} threads before, ${threads()} now`);
    const [probe] = ps[200];
    const t = await timed(fdReady(probe, POLLIN, {
      deadline: performance.now() + 100,
    }));
    strictEqual(t.value, false);
    ok(t.ms >= 99 && t.ms < 300, `the 100 ms deadline came after ${t.ms} ms`);
    const controller = new AbortController();
    const aborted = fdReady(probe, POLLIN, {
      deadline: Infinity,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 10);
    const a = await timed(aborted);
    ok(a.error instanceof DOMException, String(a.error));
    ok(a.ms < 100, `the abort acted after ${a.ms} ms`);
    writeSome(ps[7][1], new Uint8Array([1]), 0, 1);
    const w = await timed(Promise.all(waits.slice(70, 80)));
    ok(w.value!.every((v) => v === true));
    ok(w.ms < 100, `a write woke its waits after ${w.ms} ms`);
  } finally {
    group.wakeAll();
    const all = await timed(Promise.all(waits));
    ok(all.ms < 1000, `close woke 2,000 waits after ${all.ms} ms`);
    closeAll(ps);
  }
});

Deno.test("SharedWord: 200 words waited on at once (more than one futex_waitv holds) each wake their own waits", async () => {
  const shm = SharedMemory.create(4096);
  const i32 = new Int32Array(shm.buffer);
  const words = Array.from(
    { length: 200 },
    (_, i) => new SharedWord(i32, 2 * i, 2 * i + 1, shm.address(8 * i), 1000),
  );
  const group = new WaitGroup();
  const waits = words.map((w) =>
    w.changeFrom(0, { deadline: Infinity, group })
  );
  const settled = new Set<number>();
  waits.forEach((p, i) => p.then(() => settled.add(i)));
  try {
    await new Promise((r) => setTimeout(r, 50));
    for (const i of [3, 150, 199]) {
      Atomics.store(i32, 2 * i, 1);
      words[i].wake(1);
      const t = await timed(waits[i]);
      strictEqual(t.value, true);
      ok(t.ms < 300, `word ${i} woke after ${t.ms} ms`);
    }
    ok(settled.size < 200, "every wait woke: nothing told them apart");
  } finally {
    group.wakeAll();
    await Promise.all(waits);
    shm.close();
  }
});

Deno.test("WaitGroup: a worker's waits wake when the queue's creator is gone", async () => {
  const ps = pipes(1);
  try {
    const group = new WaitGroup(DEAD_PID);
    const t = await timed(
      fdReady(ps[0][0], POLLIN, { deadline: Infinity, group }),
    );
    strictEqual(t.value, true);
    strictEqual(group.creatorGone, true);
    ok(t.ms < 1000, `${t.ms} ms`);
  } finally {
    closeAll(ps);
  }
});
